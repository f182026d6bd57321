"""Sessions: new at login and at privilege change, ended server-side at logout, password
change and deactivation, idle timeout and absolute lifetime, cookie flags, re-auth."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.security.models import UserSession
from icbt.users.services import deactivate_user, set_password, set_role
from tests.conftest import PASSWORD, login, make_test_app, totp_code


def _cookie(client, name: str = "session") -> str | None:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def _replay(app: Flask, value: str, name: str = "session"):  # type: ignore[no-untyped-def]
    """A new browser that presents a copied cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief


def _open_sessions(user) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None)))


def test_login_starts_a_new_session_and_an_old_cookie_is_not_logged_in(app, client, factory) -> None:
    user = factory.user()
    client.get("/auth/login")  # an anonymous session (e.g. planted by an attacker: fixation)
    before = _cookie(client)
    login(client, user)
    after = _cookie(client)
    assert after and after != before
    if before:
        assert _replay(app, before).get("/me/").status_code == 302
    assert _open_sessions(user) == 1


def test_logout_ends_the_session_server_side_and_a_replayed_cookie_is_refused(app, client, factory) -> None:
    user = factory.user()
    login(client, user)
    stolen = _cookie(client)
    assert _replay(app, stolen).get("/me/").status_code == 200  # the copy works while logged in
    client.post("/auth/logout")
    assert client.get("/me/").status_code == 302
    response = _replay(app, stolen).get("/me/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.ended_at is not None and row.end_reason == "logout"


def test_staff_logout_then_replay_is_refused_too(app, client, therapist) -> None:
    login(client, therapist)
    stolen = _cookie(client)
    client.post("/auth/logout")
    assert _replay(app, stolen).get("/therapist/").status_code == 302


def test_password_change_logs_out_everywhere_else_but_keeps_this_browser(app, client, factory) -> None:
    user = factory.user()
    other = app.test_client()
    login(client, user)
    login(other, user)
    old_cookie = _cookie(client)
    response = client.post("/account/password", data={"password": "lantern-meadow-quietly", "confirm": "lantern-meadow-quietly"})
    assert response.status_code == 302
    assert client.get("/me/").status_code == 200  # this browser, with a new session
    assert _cookie(client) != old_cookie
    assert other.get("/me/").status_code == 302
    assert _replay(app, old_cookie).get("/me/").status_code == 302
    assert _open_sessions(user) == 1


def test_password_change_by_service_ends_every_session(app, factory) -> None:
    user = factory.user()
    first = app.test_client()
    login(first, user)
    set_password(db.session, user, "another-quiet-evening", actor=user)
    db.session.commit()
    assert first.get("/me/").status_code == 302
    assert _open_sessions(user) == 0


def test_deactivation_ends_every_session_at_once(app, client, therapist) -> None:
    login(client, therapist)
    stolen = _cookie(client)
    deactivate_user(db.session, therapist)
    db.session.commit()
    assert client.get("/therapist/").status_code == 302
    assert _replay(app, stolen).get("/therapist/").status_code == 302
    assert client.post("/auth/login", data={"email": therapist.email, "password": PASSWORD}).status_code == 200


def test_role_change_is_a_privilege_change_that_ends_sessions(client, factory) -> None:
    user = factory.user("therapist")
    login(client, user)
    set_role(db.session, user, "admin", actor=None)
    db.session.commit()
    assert client.get("/therapist/").status_code == 302
    assert client.get("/admin/").status_code == 302  # must log in again, as an admin
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(user.id))).all()
    assert "user.role_change" in actions


@pytest.mark.parametrize(("role", "path", "idle_minutes"), [("patient", "/me/", 30), ("therapist", "/therapist/", 15), ("admin", "/admin/", 15)])
def test_idle_timeout_by_role(client, factory, clock, role, path, idle_minutes) -> None:
    user = factory.user(role)
    login(client, user)
    clock.advance(minutes=idle_minutes - 1)
    assert client.get(path).status_code == 200  # activity resets the idle timer
    clock.advance(minutes=idle_minutes - 1)
    assert client.get(path).status_code == 200
    clock.advance(minutes=idle_minutes, seconds=1)
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    page = client.get("/auth/login").get_data(as_text=True)
    assert "inactive for a while" in page
    assert db.session.scalar(select(UserSession.end_reason).where(UserSession.user_id == user.id)) == "idle"
    assert "auth.session_idle" in db.session.scalars(select(AuditEvent.action)).all()


def test_absolute_lifetime_ends_even_an_active_session(client, factory, clock) -> None:
    user = factory.user()
    login(client, user)
    for _ in range(12 * 4):  # active every 15 minutes for 12 hours
        clock.advance(minutes=15)
        if client.get("/me/").status_code != 200:
            break
    clock.advance(minutes=15)
    assert client.get("/me/").status_code == 302
    assert db.session.scalar(select(UserSession.end_reason).where(UserSession.user_id == user.id)) == "expired"


def test_cookies_are_httponly_samesite_lax(client, factory) -> None:
    user = factory.user()
    client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    response = client.get("/me/")
    header = " ".join(response.headers.getlist("Set-Cookie"))
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_production_cookies_are_secure_host_prefixed_and_hsts_is_sent(tmp_path: Path, database_url: str, app) -> None:
    from tests.conftest import Factory

    prod = make_test_app(database_url, tmp_path, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session",
                         DEVICE_COOKIE_NAME="__Host-icbt_device")
    user = Factory().user()
    client = prod.test_client()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD}, base_url="https://localhost")
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("__Host-session="))
    device_cookie = next(c for c in cookies if c.startswith("__Host-icbt_device="))
    for cookie in (session_cookie, device_cookie):
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Path=/" in cookie and "Domain" not in cookie  # what __Host- requires
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_cookies_are_not_secure_so_http_on_loopback_works(client, factory) -> None:
    user = factory.user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert all("Secure" not in c for c in response.headers.getlist("Set-Cookie"))
    assert "Strict-Transport-Security" not in response.headers


# ---------------------------------------------------------------- re-authentication

@pytest.mark.parametrize("path", ["/account/password", "/account/email"])
def test_changes_to_login_details_need_a_recent_reauthentication(client, factory, clock, path) -> None:
    user = factory.user()
    login(client, user)
    assert client.get(path).status_code == 200  # the login itself was 0 minutes ago
    clock.advance(minutes=6)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm?next=" + path.replace("/", "%2F")) or \
        response.headers["Location"].startswith("/account/confirm?next=" + path)
    wrong = client.post(response.headers["Location"], data={"password": "not-my-password-at-all"})
    assert wrong.status_code == 200 and "That password is not right." in wrong.get_data(as_text=True)
    ok = client.post(response.headers["Location"], data={"password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == path
    assert client.get(path).status_code == 200


def test_staff_reauthentication_needs_the_second_factor_too(client, therapist, clock) -> None:
    login(client, therapist)
    clock.advance(minutes=6)
    assert client.get("/account/email").status_code == 302
    page = client.get("/account/confirm?next=/account/email").get_data(as_text=True)
    assert "Code from your app" in page
    no_code = client.post("/account/confirm?next=/account/email", data={"password": PASSWORD, "code": "000000"})
    assert no_code.status_code == 200 and "That code is not right" in no_code.get_data(as_text=True)
    assert client.get("/account/email").status_code == 302
    code = totp_code(client, therapist)
    ok = client.post("/account/confirm?next=/account/email", data={"password": PASSWORD, "code": code})
    assert ok.status_code == 302 and ok.headers["Location"] == "/account/email"
    assert client.get("/account/email").status_code == 200


def test_email_change_checks_and_audits(client, factory) -> None:
    user, other = factory.user(), factory.user()
    login(client, user)
    taken = client.post("/account/email", data={"email": other.email.upper()})
    assert taken.status_code == 200 and "cannot be used" in taken.get_data(as_text=True)
    done = client.post("/account/email", data={"email": "New.Address@Example.org"})
    assert done.status_code == 302
    db.session.refresh(user)
    assert user.email == "new.address@example.org"
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.email_change")).all()
    assert len(events) == 1 and "example.org" not in str(events[0].detail)
