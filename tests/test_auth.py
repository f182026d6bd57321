from __future__ import annotations

import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.users.models import Role
from icbt.users.services import AccountError, create_user, set_password
from tests.conftest import PASSWORD, login, totp_code


@pytest.mark.parametrize(
    ("role", "home"),
    [("patient", "/me/"), ("therapist", "/therapist/"), ("admin", "/admin/")],
)
def test_login_lands_on_the_role_dashboard(client, factory, role, home) -> None:
    user = factory.user(role)
    response = client.post("/auth/login", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    if role != "patient":  # staff pass the second factor before anything else
        assert response.headers["Location"] == "/auth/two-factor"
        assert client.get(home).status_code == 302  # not logged in yet
        response = client.post("/auth/two-factor", data={"code": totp_code(client, user)})
        assert response.status_code == 302
    assert response.headers["Location"] == home
    page = client.get(home)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).all()
    assert "auth.login" in events


def test_password_is_stored_as_argon2id(factory) -> None:
    user = factory.user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_unknown_user_and_wrong_password_look_the_same(client, factory) -> None:
    user = factory.user()
    wrong = client.post("/auth/login", data={"email": user.email, "password": "not-the-password-1"})
    unknown = client.post("/auth/login", data={"email": "nobody@example.org", "password": "not-the-password-1"})
    assert wrong.status_code == unknown.status_code == 200
    assert "The e-mail address or password is not right." in wrong.get_data(as_text=True)
    assert "The e-mail address or password is not right." in unknown.get_data(as_text=True)
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert len(failures) == 2
    assert all("nobody" not in str(event.detail) for event in failures)  # no e-mail in the log


def test_inactive_account_cannot_log_in(client, factory) -> None:
    user = factory.user()
    user.active = False
    db.session.commit()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/me/").status_code == 302


@pytest.mark.parametrize(
    "bad_next",
    ["//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
     "http:/evil.example", "\\\\evil.example", "/%0d%0aSet-Cookie:x", " //evil.example"],
)
def test_next_never_leaves_the_site(client, factory, bad_next) -> None:
    user = factory.user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "next": bad_next})
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/"


def test_next_within_the_site_is_followed(client, factory) -> None:
    user = factory.user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "next": "/me/?tab=plan"})
    assert response.headers["Location"] == "/me/?tab=plan"


def test_protected_page_sends_anonymous_to_login_with_next(client) -> None:
    response = client.get("/therapist/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_logout_needs_post_and_ends_the_session(client, factory) -> None:
    user = factory.user()
    login(client, user)
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/me/").status_code == 302


def test_password_change_invalidates_existing_sessions(app, factory) -> None:
    user = factory.user()
    first, second = app.test_client(), app.test_client()
    login(first, user)
    login(second, user)
    set_password(db.session, user, "a-brand-new-passphrase", actor=user)
    db.session.commit()
    assert first.get("/me/").status_code == 302
    assert second.get("/me/").status_code == 302


def test_duplicate_email_and_short_password_are_refused(factory) -> None:
    user = factory.user()
    with pytest.raises(AccountError, match="already exists"):
        create_user(db.session, email=user.email.upper(), password=PASSWORD, role=Role.PATIENT, display_name="X")
    with pytest.raises(AccountError, match="at least 12"):
        create_user(db.session, email="new@example.org", password="short-pw", role=Role.PATIENT, display_name="X")


def test_login_form_errors_are_next_to_their_fields(client) -> None:
    response = client.post("/auth/login", data={"email": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="email-error"' in html and "Enter your e-mail address." in html
    assert 'aria-describedby="email-error"' in html
    assert 'id="password-error"' in html
