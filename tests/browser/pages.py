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

import datetime as dt
import re
import time
from typing import ClassVar, TypeVar

from playwright.sync_api import Locator, expect

from icbt.clock import parse_fake_now
from icbt.security import second_factor
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
        """Log in and land on the account's home page (staff: with the second factor)."""
        self.submit(account.email, account.password)
        if account.role != "patient":
            SecondFactorPage(self.v).enter_code(totp_code(self.v, account.email))
        return HOME_PAGES[account.role](self.v)

    def log_in_failing(self, email: str, password: str) -> LoginPage:
        self.submit(email, password)
        return LoginPage(self.v)

    def field_error(self, label: str) -> Locator:
        """The error message shown next to the field with this label."""
        field_id = self.page.get_by_label(label).get_attribute("id")
        return self.page.locator(f"#{field_id}-error")


# The server refuses a TOTP step it has already accepted (or an older one) for an account:
# the journeys remember the last step they used per server and account, and take the
# oldest step still in the server's window (one step either side), waiting for the next
# step only when all three are used.
_USED_STEPS: dict[tuple[str, str], int] = {}


def server_now(v: Visitor) -> tuple[dt.datetime, bool]:
    """The server's clock (live_server.set_clock) and whether it is the real one."""
    text = ""
    try:
        with open(v.server.env["ICBT_FAKE_NOW_FILE"], encoding="utf-8") as fh:
            text = fh.read().strip()
    except (FileNotFoundError, KeyError):
        pass
    if text:
        return parse_fake_now(text), False
    return dt.datetime.now(dt.timezone.utc), True


def totp_code(v: Visitor, email: str) -> str:
    """The demo staff account's current code (its secret is fixed: security/demo.py)."""
    key = (v.server.base_url, email)
    while True:
        now, real = server_now(v)
        current = second_factor.step_of(now)
        last = _USED_STEPS.get(key)
        candidates = [s for s in range(current - second_factor.WINDOW, current + second_factor.WINDOW + 1)
                      if last is None or s > last]
        if candidates:
            step = candidates[0]
            _USED_STEPS[key] = step
            return second_factor.code_at(second_factor.demo_secret(email), step)
        if not real:
            raise AssertionError(f"every TOTP step of {email} at the fixed test clock {now} is used")
        time.sleep(second_factor.STEP - now.timestamp() % second_factor.STEP + 0.2)


class SecondFactorPage(AppPage):
    name = "second factor"
    path = "/auth/two-factor"
    heading = "Second step of logging in"

    @property
    def code(self) -> Locator:
        return self.page.get_by_label("Code")

    def enter_code(self, code: str) -> None:
        self.code.fill(code)
        self.page.get_by_role("button", name="Continue").click()


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
        return [code.strip() for code in self.page.locator("table.data tbody th a:first-of-type").all_inner_texts()]

    def needs(self) -> list[str]:
        """The first tag of the Needs column of each row, in the order shown ('' when none)."""
        out = []
        for i in range(self.rows.count()):
            tags = self.rows.nth(i).locator("td").first.locator(".tag")
            out.append(tags.first.inner_text().strip() if tags.count() else "")
        return out

    def open_patient(self, code: str) -> TherapistPatientPage:
        self.page.locator("table.data").get_by_role("link", name=code, exact=True).click()
        return TherapistPatientPage(self.v)


class TherapistPatientPage(AppPage):
    name = "therapist patient page"
    path = "/therapist/patients/{participant_id}"
    heading = re.compile(r"\(P-[0-9A-Z]+\)")

    def back_to_caseload(self) -> Caseload:
        self.page.get_by_role("link", name="Caseload").first.click()
        return Caseload(self.v)


class PatientPlan(AppPage):
    name = "plan"
    path = "/me/plan"
    heading = "My plan"


class ModulePage(AppPage):
    name = "module page"
    heading = re.compile(r".+")

    def next_page(self) -> ModulePage:
        self.page.get_by_role("link", name=re.compile("Next page")).click()
        return ModulePage(self.v)

    def homework(self) -> WorksheetPage:
        self.page.locator(".page-nav a", has_text="Homework:").first.click()
        return WorksheetPage(self.v)


class WorksheetPage(AppPage):
    name = "worksheet"
    heading = re.compile(r".+")

    @property
    def form(self) -> Locator:
        return self.page.locator("#worksheet-form")


class QuestionnairePage(AppPage):
    name = "questionnaire"
    heading = re.compile(r".+")

    def answer_all(self, choose: int = 1) -> None:
        """Click the ``choose``-th answer (0-based, clamped) of every item."""
        items = self.page.locator("li.q-item")
        for i in range(items.count()):
            options = items.nth(i).locator("label.q-option")
            options.nth(min(choose, options.count() - 1)).click()

    def send(self) -> AppPage:
        self.page.get_by_role("button", name=re.compile(r"^Send")).click()
        return AppPage(self.v, label="questionnaire sent")


class MessagesPage(AppPage):
    name = "messages"
    heading = re.compile(r"^Messages with ")

    def write(self, text: str) -> MessagesPage:
        self.page.get_by_label("Your message", exact=True).fill(text)
        self.page.get_by_role("button", name="Send", exact=True).click()
        return MessagesPage(self.v, label="message sent")


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
