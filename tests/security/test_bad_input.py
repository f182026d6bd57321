"""Bad input, table-driven: every case gets a clear 4xx or a form error, never a 500, and
nothing is half-written. Run on SQLite and on PostgreSQL (which refuses NUL bytes and
counts VARCHAR lengths in characters). Add cases for your forms and routes to CASES.

Each case: who sends it (anonymous, patient, therapist, admin, or "pending": a staff
member between password and second factor), method, path and form data (either may be a
function of the World in tests/security/conftest.py), the statuses accepted, text that
must / must not be on the page, and whether the database must be unchanged afterwards
(``unchanged``; audit lines and login-failure counters excepted) or a check of what was
stored (``check``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from icbt.extensions import db
from icbt.security.models import RecoveryCode, SecondFactor, UserSession
from icbt.textinput import csv_safe
from icbt.trials.models import Participant
from icbt.users.models import User
from tests.conftest import PASSWORD
from tests.security.conftest import World, logged_in_client

EVIL = "evil.example"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    who: str
    method: str
    path: str | Callable[[World], str]
    data: dict[str, Any] | Callable[[World], dict[str, Any]] | bytes | None = None
    expect: frozenset[int] = frozenset({200})
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    location: str | None = None  # for redirects: the exact Location
    unchanged: bool = True
    check: Callable[[World], None] | None = None
    content_type: str | None = None


def _login(next_value: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"email": w.patient.email, "password": PASSWORD, "next": next_value}


def _name_is(expected: str) -> Callable[[World], None]:
    def check(w: World) -> None:
        db.session.refresh(w.patient)
        assert w.patient.display_name == expected
    return check


FORM_ERROR = "has-error"
CONTROL = "invisible control characters"
BIDI = "invisible text-direction characters"
LOGIN_FAILED = "The e-mail address or password is not right."
OK = frozenset({200})
REDIRECT = frozenset({302})

CASES: list[Case] = [
    # -- open redirects after login (the login succeeds; the redirect stays on the site)
    Case("next-protocol-relative", "anonymous", "POST", "/auth/login", _login(f"//{EVIL}/"), REDIRECT, location="/me/"),
    Case("next-backslash", "anonymous", "POST", "/auth/login", _login(f"/\\{EVIL}"), REDIRECT, location="/me/"),
    Case("next-javascript", "anonymous", "POST", "/auth/login", _login("javascript:alert(1)"), REDIRECT, location="/me/"),
    Case("next-absolute", "anonymous", "POST", "/auth/login", _login(f"https://{EVIL}/x"), REDIRECT, location="/me/"),
    Case("next-crlf-header", "anonymous", "POST", "/auth/login", _login("/%0d%0aSet-Cookie:x=1"), REDIRECT, location="/me/"),
    Case("next-tab-evades", "anonymous", "POST", "/auth/login", _login(f"/\t/{EVIL}"), REDIRECT, location="/me/"),
    Case("next-in-query", "anonymous", "GET", f"/auth/login?next=//{EVIL}", None, OK, absent=(EVIL,)),
    # -- login form: NUL and control characters, direction overrides, 4-byte Unicode, sizes
    Case("login-nul-email", "anonymous", "POST", "/auth/login", {"email": "pa\x00tient@example.org", "password": PASSWORD}, OK, (CONTROL,)),
    Case("login-nul-password", "anonymous", "POST", "/auth/login", lambda w: {"email": w.patient.email, "password": PASSWORD + "\x00"}, OK, (CONTROL,)),
    Case("login-escape-sequence", "anonymous", "POST", "/auth/login", {"email": "\x1b[31m@example.org", "password": PASSWORD}, OK, (CONTROL,)),
    Case("login-rtl-override", "anonymous", "POST", "/auth/login", {"email": "\u202egro.elpmaxe@kim", "password": PASSWORD}, OK, (BIDI,)),
    Case("login-4-byte-unicode", "anonymous", "POST", "/auth/login", {"email": "\U0001F600@example.org", "password": PASSWORD}, OK, (LOGIN_FAILED,)),
    Case("login-email-255", "anonymous", "POST", "/auth/login", {"email": "a" * 243 + "@example.org", "password": PASSWORD}, OK, (FORM_ERROR,)),
    Case("login-password-129", "anonymous", "POST", "/auth/login", lambda w: {"email": w.patient.email, "password": "p" * 129}, OK, (FORM_ERROR,)),
    Case("login-template-injection", "anonymous", "POST", "/auth/login", {"email": "{{7*7}}@example.org", "password": "{{7*7}}{{7*7}}"}, OK,
         ("{{7*7}}@example.org", LOGIN_FAILED), ("49@example.org",)),
    Case("login-script-injection", "anonymous", "POST", "/auth/login", {"email": "<script>alert(1)</script>@x.org", "password": PASSWORD}, OK,
         ("&lt;script&gt;",), ("<script>alert(1)",)),
    Case("login-json-body", "anonymous", "POST", "/auth/login", b'{"email": "a@b.org", "password": "x"}', OK, (FORM_ERROR,), content_type="application/json"),
    Case("login-invalid-utf8", "anonymous", "POST", "/auth/login", b"email=%FF%FE%FD&password=%C3%28x", OK, content_type="application/x-www-form-urlencoded"),
    Case("login-oversized-body", "anonymous", "POST", "/auth/login", {"email": "a@b.org", "password": "x" * (3 * 1024 * 1024)}, frozenset({413})),
    # -- account: name
    Case("name-121", "patient", "POST", "/account/name", {"display_name": "n" * 121}, OK, ("at most 120",)),
    Case("name-120-four-byte", "patient", "POST", "/account/name", {"display_name": "\U0001F98A" * 120}, REDIRECT,
         unchanged=False, check=_name_is("\U0001F98A" * 120)),
    Case("name-nul", "patient", "POST", "/account/name", {"display_name": "Kim\x00Svensson"}, OK, (CONTROL,)),
    Case("name-rtl-override", "patient", "POST", "/account/name", {"display_name": "Kim \u202enosnevS"}, OK, (BIDI,)),
    Case("name-blank", "patient", "POST", "/account/name", {"display_name": "   "}, OK, (FORM_ERROR,)),
    Case("name-csv-injection", "patient", "POST", "/account/name", {"display_name": '=HYPERLINK("http://evil.example","x")'}, REDIRECT,
         unchanged=False, check=_name_is('=HYPERLINK("http://evil.example","x")')),
    Case("name-template-injection", "patient", "POST", "/account/name", {"display_name": "{{7*7}} {{config}}"}, REDIRECT,
         unchanged=False, check=_name_is("{{7*7}} {{config}}")),
    Case("name-script-injection", "patient", "POST", "/account/name", {"display_name": "<img src=x onerror=alert(1)>"}, REDIRECT,
         unchanged=False, check=_name_is("<img src=x onerror=alert(1)>")),
    Case("name-another-users-id", "patient", "POST", "/account/name", lambda w: {"display_name": "Mine", "user_id": str(w.therapist.id), "id": str(w.therapist.id)},
         REDIRECT, unchanged=False, check=lambda w: (_name_is("Mine")(w), db.session.refresh(w.therapist), w.therapist.display_name != "Mine")),
    # -- account: e-mail and password
    Case("email-255", "patient", "POST", "/account/email", {"email": "a" * 243 + "@example.org"}, OK, ("at most 254",)),
    Case("email-header-injection", "patient", "POST", "/account/email", {"email": "kim@example.org\r\nBcc: all@example.org"}, OK, (CONTROL,)),
    Case("email-not-an-address", "patient", "POST", "/account/email", {"email": "not-an-address"}, OK, ("like name@example.org",)),
    Case("email-sql-suffix", "patient", "POST", "/account/email", {"email": "kim@example.org`,sleep(11)#1"}, OK, ("like name@example.org",)),
    Case("email-markup", "patient", "POST", "/account/email", {"email": '"><script>alert(1)</script>@example.org'}, OK,
         ("like name@example.org",), ("<script>alert(1)",)),
    Case("email-another-users", "patient", "POST", "/account/email", lambda w: {"email": w.therapist.email}, OK, ("cannot be used",)),
    Case("password-129", "patient", "POST", "/account/password", {"password": "q" * 129, "confirm": "q" * 129}, OK, ("at most 128",)),
    Case("password-nul", "patient", "POST", "/account/password", {"password": "quiet fern\x00 bridge", "confirm": "quiet fern\x00 bridge"}, OK, (CONTROL,)),
    Case("password-common", "patient", "POST", "/account/password", {"password": "Password1234!", "confirm": "Password1234!"}, OK, ("too common",)),
    Case("password-mismatch", "patient", "POST", "/account/password", {"password": "quiet fern bridge", "confirm": "quiet fern bridgE"}, OK, ("not the same",)),
    # -- another patient's record in the URL; ids no database integer can hold
    Case("other-caseload-id", "therapist", "GET", lambda w: f"/therapist/patients/{w.other_participant.id}", None, frozenset({403})),
    Case("id-past-int32", "therapist", "GET", "/therapist/patients/2147483648", None, frozenset({404})),
    Case("id-huge", "therapist", "GET", "/therapist/patients/99999999999999999999", None, frozenset({404})),
    Case("id-negative", "therapist", "GET", "/therapist/patients/-1", None, frozenset({404})),
    Case("static-traversal", "anonymous", "GET", "/static/../config.py", None, frozenset({404})),
    Case("static-encoded-traversal", "anonymous", "GET", "/static/%2e%2e/%2e%2e/config.py", None, frozenset({404})),
    # -- admin audit filters
    Case("audit-before-huge", "admin", "GET", "/admin/audit/?before=99999999999999999999", None, OK),
    Case("audit-before-negative", "admin", "GET", "/admin/audit/?before=-5", None, OK),
    Case("audit-participant-nul", "admin", "GET", "/admin/audit/?participant=%00", None, OK, (CONTROL,)),
    Case("audit-user-255", "admin", "GET", "/admin/audit/?user=" + "u" * 255, None, OK, (FORM_ERROR,)),
    Case("audit-action-wildcards", "admin", "GET", "/admin/audit/?action=%25_%5C", None, OK, ("No audit lines match.",)),
    # -- second factor codes
    Case("code-letters", "pending", "POST", "/auth/two-factor", {"code": "abcdef"}, OK, ("not right",)),
    Case("code-33-chars", "pending", "POST", "/auth/two-factor", {"code": "1" * 33}, OK, (FORM_ERROR,)),
    Case("code-nul", "pending", "POST", "/auth/two-factor", {"code": "123\x00456"}, OK, (CONTROL,)),
]


def _state() -> tuple:
    users = db.session.execute(select(User.id, User.email, User.display_name, User.role, User.active,
                                      User.password_hash, User.session_token).order_by(User.id)).all()
    participants = db.session.execute(select(Participant.id, Participant.user_id, Participant.therapist_id,
                                             Participant.arm, Participant.status, Participant.code).order_by(Participant.id)).all()
    factors = db.session.execute(select(SecondFactor.user_id, SecondFactor.secret, SecondFactor.pending_secret)
                                 .order_by(SecondFactor.user_id)).all()
    codes = db.session.scalar(select(func.count()).select_from(RecoveryCode))
    return tuple(map(tuple, users)), tuple(map(tuple, participants)), tuple(map(tuple, factors)), codes


def _client(app: Flask, world: World, who: str):  # type: ignore[no-untyped-def]
    if who == "pending":
        client = app.test_client()
        client.post("/auth/login", data={"email": world.therapist.email, "password": PASSWORD})
        return client
    return logged_in_client(app, None if who == "anonymous" else world.user(who))


def test_the_suite_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(app: Flask, world: World, case: Case) -> None:
    client = _client(app, world, case.who)
    path = case.path(world) if callable(case.path) else case.path
    data = case.data(world) if callable(case.data) else case.data
    db.session.expire_all()
    before = _state()
    kwargs: dict[str, Any] = {"method": case.method}
    if data is not None:
        kwargs["data"] = data
    if case.content_type:
        kwargs["content_type"] = case.content_type
    response = client.open(path, **kwargs)
    html = response.get_data(as_text=True)
    assert response.status_code < 500, html[:300]
    assert response.status_code in case.expect, (response.status_code, html[:300])
    if case.location is not None:
        assert response.headers["Location"] == case.location
    for text in case.contains:
        assert text in html, text
    for text in case.absent:
        assert text not in html, text
    db.session.expire_all()
    if case.unchanged:
        assert _state() == before, "something was written"
    if case.check:
        case.check(world)
    response.close()


def test_stored_injection_strings_render_as_text(app: Flask, world: World) -> None:
    client = logged_in_client(app, world.patient)
    client.post("/account/name", data={"display_name": "{{7*7}} <script>alert(1)</script>"})
    html = client.get("/me/").get_data(as_text=True)
    assert "{{7*7}} &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "49 " not in html.split("<h1>")[1].split("</h1>")[0]
    assert csv_safe('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")" and csv_safe("-1+2") == "'-1+2" and csv_safe("Kim") == "Kim"


# ---------------------------------------------------------------- replays (flows)

def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    return client.get_cookie("session").value


def _replay_after(app: Flask, world: World, action: str) -> None:
    client = logged_in_client(app, world.patient)
    stolen = _cookie(client)
    if action == "logout":
        client.post("/auth/logout")
    elif action == "password change":
        client.post("/account/password", data={"password": "lantern meadow quietly", "confirm": "lantern meadow quietly"})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/me/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def _reused_totp(app: Flask, world: World) -> None:
    from tests.conftest import totp_code

    first = app.test_client()
    first.post("/auth/login", data={"email": world.therapist.email, "password": PASSWORD})
    code = totp_code(first, world.therapist)
    assert first.post("/auth/two-factor", data={"code": code}).status_code == 302
    second = app.test_client()
    second.post("/auth/login", data={"email": world.therapist.email, "password": PASSWORD})
    response = second.post("/auth/two-factor", data={"code": code})
    assert response.status_code == 200 and "already used" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == world.therapist.id)) == 1


def _reused_recovery_code(app: Flask, world: World) -> None:
    from icbt.security import second_factor
    from tests.conftest import security_now

    codes = second_factor.new_recovery_codes(db.session, world.admin, now=security_now(app))
    db.session.commit()
    for attempt, expected in ((1, 302), (2, 200)):
        client = app.test_client()
        client.post("/auth/login", data={"email": world.admin.email, "password": PASSWORD})
        assert client.post("/auth/two-factor", data={"code": codes[0]}).status_code == expected, attempt


FLOWS = {
    "replayed-cookie-after-logout": lambda app, w: _replay_after(app, w, "logout"),
    "replayed-cookie-after-password-change": lambda app, w: _replay_after(app, w, "password change"),
    "reused-totp-code": _reused_totp,
    "reused-recovery-code": _reused_recovery_code,
}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_replays_are_refused(app: Flask, world: World, name: str) -> None:
    FLOWS[name](app, world)
