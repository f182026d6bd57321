"""The three kinds of users, each through what exists of their journey, at a phone and a
desktop size. Every page reached is audited (screenshot, labels, reflow, axe-core)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser import accounts
from tests.browser.pages import AdminDashboard, Caseload, ErrorPage, LoginPage, PatientDashboard


def test_patient_journey(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("patient")
    v.goto("/")  # the front door sends an anonymous visitor to the login page
    login = LoginPage(v)
    dashboard = login.log_in(accounts.PATIENT)
    assert isinstance(dashboard, PatientDashboard)
    assert re.fullmatch(r"P-[0-9A-Z]{6}", dashboard.fact("Your participant code"))
    assert dashboard.fact("Programme").startswith("Tailored ICBT")
    expect(dashboard.nav_link("My programme")).to_be_visible()

    # Staff pages are closed to a patient, and say so plainly.
    v.goto("/therapist/")
    forbidden = ErrorPage(v, label="403 for a patient")
    assert forbidden.code() == 403
    v.goto("/me/no-such-page")
    assert ErrorPage(v, label="404").code() == 404

    login = PatientDashboard.open(v).log_out()
    expect(login.main).to_contain_text("You are logged out.")
    v.goto("/me/")  # the session is gone: back to the login page
    LoginPage(v, audit=False)
    assert v.path.startswith("/auth/login?next=")


def test_therapist_journey(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("therapist")
    caseload = LoginPage.open(v).log_in(accounts.THERAPIST)
    assert isinstance(caseload, Caseload)
    codes = caseload.codes()
    assert codes and caseload.rows.count() == len(codes)
    assert len(set(codes)) == len(codes)  # the order (by need) is checked in test_full_journeys.py
    patient = caseload.open_patient(codes[0])
    assert codes[0] in patient.h1
    caseload = patient.back_to_caseload()

    v.goto("/admin/")
    assert ErrorPage(v, label="403 for a therapist").code() == 403
    caseload = Caseload.open(v)
    caseload.log_out()


def test_admin_journey(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("admin")
    dashboard = LoginPage.open(v).log_in(accounts.ADMIN)
    assert isinstance(dashboard, AdminDashboard)
    table = dashboard.participants_table()
    expect(table).to_be_visible()
    counts = [int(n) for n in table.locator("td.num").all_inner_texts()]
    assert sum(counts) == 54  # the demo trial's participants, each in one arm-and-stage row
    expect(dashboard.main).to_contain_text("Tove Terapeut")
    dashboard.log_out()


def test_wrong_password_is_announced_next_to_the_field(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("login-error")
    login = LoginPage.open(v).log_in_failing(accounts.PATIENT.email, "not-the-password")
    error = login.field_error("Password")
    expect(error).to_have_text("The e-mail address or password is not right.")
    expect(error).to_have_attribute("role", "alert")
    expect(login.password).to_have_attribute("aria-invalid", "true")
    expect(login.password).to_have_attribute("aria-describedby", re.compile(r"\bpassword-error\b"))
    # The error sits inside the field's own group, between its label and its input.
    group = login.page.locator(".field.has-error")
    expect(group).to_have_count(1)
    expect(group.locator("label")).to_have_text("Password")
    assert login.email.input_value() == accounts.PATIENT.email  # what was typed is kept

    empty = login.log_in_failing("", "")
    expect(empty.field_error("E-mail address")).to_have_text("Enter your e-mail address.")
    expect(empty.field_error("Password")).to_have_text("Enter your password.")


def test_error_pages(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("errors")
    response = v.goto("/no/such/page")
    assert response is not None and response.status == 404
    assert ErrorPage(v, label="404 anonymous").code() == 404

    response = v.goto("/auth/logout")  # logging out is a POST; a GET is not possible
    assert response is not None and response.status == 405
    assert ErrorPage(v, label="405").code() == 405

    # A form sent with a stale CSRF token: a plain 400 that says what to do.
    login = LoginPage.open(v)
    v.page.locator("input[name=csrf_token]").evaluate("el => el.value = 'stale'")
    login.submit(accounts.PATIENT.email, accounts.PATIENT.password)
    page = ErrorPage(v, label="400 stale form")
    assert page.code() == 400
    expect(page.main).to_contain_text("Reload the page")
    page.page.get_by_role("link", name="Go to the start page").click()
    LoginPage(v, audit=False)
