"""Keyboard alone: the skip link comes first, Tab reaches every link, button and field of
the page with a visible focus, and a person can log in and out without a pointer."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import accounts
from tests.browser.harness import Visitor
from tests.browser.pages import AdminDashboard, Caseload, LoginPage, PatientDashboard, SecondFactorPage, totp_code


def assert_tab_reaches_everything(v: Visitor, where: str) -> list[dict]:
    expected = v.mark_focusable()
    reached = v.tab_walk(limit=len(expected) + 10)
    assert reached, f"{where}: Tab focuses nothing"
    first = reached[0]
    assert "skip-link" in (v.page.locator(f"[data-kb='{first['kb']}']").get_attribute("class") or ""), (
        f"{where}: the first Tab stop is {first}, not the skip link")
    missing = {e["kb"] for e in expected} - {r["kb"] for r in reached}
    assert not missing, f"{where}: never reached by Tab: {[e['desc'] for e in expected if e['kb'] in missing]}"
    hidden_focus = [r for r in reached if not (r["visibleFocus"] and r["onScreen"])]
    assert not hidden_focus, f"{where}: focus not visible on {hidden_focus}"
    return reached


def test_keyboard_only_journey(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("keyboard")
    login = LoginPage.open(v)
    reached = assert_tab_reaches_everything(v, "login")
    # In reading order: skip link, brand, the two fields, the button.
    assert [r["id"] for r in reached if r["id"]] == ["email", "password"]

    # The skip link moves focus to the main content.
    v.focus_top()
    v.tab()
    v.page.keyboard.press("Enter")
    assert v.active()["id"] == "main"
    v.tab()  # the next stop is inside main: the first field
    assert v.active()["id"] == "email"

    # Type and send the form with the keyboard only.
    v.page.keyboard.type(accounts.THERAPIST.email)
    v.tab()
    v.page.keyboard.type(accounts.THERAPIST.password)
    v.page.keyboard.press("Enter")
    # The second factor: focus goes to the code field by Tab, Enter sends it.
    SecondFactorPage(v, label="second factor (keyboard)")
    v.focus_top()
    while (v.tab() or {}).get("id") != "code":
        pass
    v.page.keyboard.type(totp_code(v, accounts.THERAPIST.email))
    v.page.keyboard.press("Enter")
    caseload = Caseload(v, label="caseload (keyboard)")
    assert_tab_reaches_everything(v, "caseload")

    # Open a patient with Enter on the focused link, then log out with the keyboard.
    code = caseload.codes()[0]
    link = v.page.get_by_role("link", name=code, exact=True)
    link.focus()
    v.page.keyboard.press("Enter")
    expect(v.page.locator("main h1")).to_contain_text(code)
    v.page.get_by_role("button", name="Log out").focus()
    assert v.active()["visibleFocus"]
    v.screenshot("focus on log out")
    v.page.keyboard.press("Enter")
    expect(LoginPage(v, audit=False).main).to_contain_text("You are logged out.")


def test_tab_reaches_everything_on_each_home_page(visit) -> None:  # type: ignore[no-untyped-def]
    for account, page in ((accounts.PATIENT, PatientDashboard), (accounts.ADMIN, AdminDashboard)):
        v = visit(f"keyboard-{account.role}")
        home = LoginPage.open(v).log_in(account)
        assert isinstance(home, page)
        assert_tab_reaches_everything(v, page.name)
        home.log_out()
