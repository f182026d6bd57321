"""Page objects: what a person can see and do on each page, in the words of the page.

Each class names one page: its address (``path``, with ``{placeholders}``), the heading
that proves the browser is on it (``heading``: text or regular expression) and the
actions a person takes there, each returning the page object of where they land.
Constructing a page object checks the heading and audits the page (screenshot, labels,
reflow, axe-core: see harness.Visitor.audit), so every page a journey reaches is checked.

To add a page: subclass ``AppPage`` with ``name``, ``path`` and ``heading``, add its
actions, and return it from the action that leads there. Role home pages are listed in
``HOME_PAGES`` (the page the login lands on).
"""
from __future__ import annotations

import re
from typing import ClassVar, TypeVar

from playwright.sync_api import Locator, expect

from tests.browser.accounts import Account
from tests.browser.harness import Visitor

P = TypeVar("P", bound="AppPage")


class AppPage:
    name: ClassVar[str] = "page"
    path: ClassVar[str | None] = None
    heading: ClassVar[str | re.Pattern[str]] = re.compile(r".+")

    def __init__(self, visitor: Visitor, *, audit: bool = True, label: str | None = None) -> None:
        self.v = visitor
        self.page = visitor.page
        expect(self.page.locator("main h1")).to_have_text(self.heading)
        if audit:
            visitor.audit(label or self.name)

    @classmethod
    def open(cls: type[P], visitor: Visitor, **params: object) -> P:
        if cls.path is None:
            raise TypeError(f"{cls.__name__} has no path to open")
        visitor.goto(cls.path.format(**params))
        return cls(visitor)

    # ------------------------------------------------------------ shared parts of every page

    @property
    def h1(self) -> str:
        return self.page.locator("main h1").inner_text()

    @property
    def main(self) -> Locator:
        return self.page.locator("main")

    def flash(self) -> str:
        return self.page.locator(".flashes").inner_text()

    def nav_link(self, name: str) -> Locator:
        return self.page.get_by_role("navigation", name="Main").get_by_role("link", name=name)

    def log_out(self) -> LoginPage:
        self.page.get_by_role("button", name="Log out").click()
        return LoginPage(self.v)


class LoginPage(AppPage):
    name = "login"
    path = "/auth/login"
    heading = "Log in"

    @property
    def email(self) -> Locator:
        return self.page.get_by_label("E-mail address")

    @property
    def password(self) -> Locator:
        return self.page.get_by_label("Password")

    def submit(self, email: str, password: str) -> None:
        self.email.fill(email)
        self.password.fill(password)
        self.page.get_by_role("button", name="Log in").click()

    def log_in(self, account: Account) -> AppPage:
        """Log in and land on the account's home page."""
        self.submit(account.email, account.password)
        return HOME_PAGES[account.role](self.v)

    def log_in_failing(self, email: str, password: str) -> LoginPage:
        self.submit(email, password)
        return LoginPage(self.v)

    def field_error(self, label: str) -> Locator:
        """The error message shown next to the field with this label."""
        field_id = self.page.get_by_label(label).get_attribute("id")
        return self.page.locator(f"#{field_id}-error")


class PatientDashboard(AppPage):
    name = "patient dashboard"
    path = "/me/"
    heading = re.compile(r"^Hello, .+")

    def fact(self, term: str) -> str:
        """The value shown beside ``term`` in the 'Where you are' box."""
        return self.page.locator(f"dl.facts dt:text-is('{term}') + dd").inner_text()


class Caseload(AppPage):
    name = "caseload"
    path = "/therapist/"
    heading = "Your caseload"

    @property
    def rows(self) -> Locator:
        return self.page.locator("table.data tbody tr")

    def codes(self) -> list[str]:
        return [code.strip() for code in self.page.locator("table.data tbody th a").all_inner_texts()]

    def open_patient(self, code: str) -> TherapistPatientPage:
        self.page.get_by_role("link", name=code, exact=True).click()
        return TherapistPatientPage(self.v)


class TherapistPatientPage(AppPage):
    name = "therapist patient page"
    path = "/therapist/patients/{participant_id}"
    heading = re.compile(r"\(P-[0-9A-Z]+\)")

    def back_to_caseload(self) -> Caseload:
        self.page.get_by_role("link", name="Caseload").first.click()
        return Caseload(self.v)


class AdminDashboard(AppPage):
    name = "admin dashboard"
    path = "/admin/"
    heading = "Trial administration"

    def participants_table(self) -> Locator:
        return self.page.get_by_role("table", name="Participants by arm and stage")


class ErrorPage(AppPage):
    name = "error page"

    def code(self) -> int:
        text = self.page.locator("main").inner_text()
        match = re.search(r"Error code: (\d{3})", text)
        assert match, text
        return int(match.group(1))


HOME_PAGES: dict[str, type[AppPage]] = {
    "patient": PatientDashboard,
    "therapist": Caseload,
    "admin": AdminDashboard,
}
