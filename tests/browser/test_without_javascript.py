"""Every core action works with JavaScript turned off: JavaScript only improves pages.

Nothing can be evaluated in such a page, so these visits are checked by screenshot and
labels only (axe-core, reflow and keyboard run in the journeys with JavaScript)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import accounts
from tests.browser.pages import AdminDashboard, Caseload, LoginPage, PatientDashboard


def test_log_in_use_pages_and_log_out_without_javascript(visit) -> None:  # type: ignore[no-untyped-def]
    # A wrong password: the form comes back with the error next to the field.
    v = visit("all-roles", js=False)
    login = LoginPage.open(v).log_in_failing(accounts.PATIENT.email, "wrong-password-123")
    expect(login.field_error("Password")).to_be_visible()

    patient = login.log_in(accounts.PATIENT)
    assert isinstance(patient, PatientDashboard)
    assert patient.fact("Your participant code").startswith("P-")
    login = patient.log_out()
    expect(login.main).to_contain_text("You are logged out.")

    caseload = login.log_in(accounts.THERAPIST)
    assert isinstance(caseload, Caseload)
    code = caseload.codes()[-1]
    page = caseload.open_patient(code)
    assert code in page.h1
    login = page.back_to_caseload().log_out()

    admin = login.log_in(accounts.ADMIN)
    assert isinstance(admin, AdminDashboard)
    expect(admin.participants_table()).to_be_visible()
    admin.log_out()
    v.goto("/admin/")
    LoginPage(v, audit=False)  # logged out for real: the admin page asks to log in
