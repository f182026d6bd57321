"""TOTP second factor: required for staff, optional for patients, single-use codes,
recovery codes, enrolment at first login, and the demo's fixed keys."""
from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.security import second_factor
from icbt.security.models import RecoveryCode, SecondFactor
from tests.conftest import PASSWORD, login, security_now, totp_code


def _password_step(client, user):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"email": user.email, "password": PASSWORD})


def _code(secret: str, client) -> str:  # type: ignore[no-untyped-def]
    # Independent of our code: pyotp's own TOTP at the app's clock.
    return pyotp.TOTP(secret).at(security_now(client.application))


@pytest.mark.parametrize("role", ["therapist", "admin"])
def test_staff_cannot_reach_anything_before_the_second_factor(client, factory, role) -> None:
    user = factory.user(role)
    response = _password_step(client, user)
    assert response.headers["Location"] == "/auth/two-factor"
    for path in ("/therapist/", "/admin/", "/admin/audit/", "/account/", "/me/"):
        assert client.get(path).headers.get("Location", "").startswith("/auth/login"), path
    assert client.post("/auth/logout").status_code == 302  # not logged in: sent to login


def test_totp_codes_are_single_use_within_their_step(app, client, factory, clock) -> None:
    user = factory.user("therapist")
    secret = db.session.get(SecondFactor, user.id).secret
    code = _code(secret, client)
    _password_step(client, user)
    assert client.post("/auth/two-factor", data={"code": code}).status_code == 302
    other = app.test_client()
    _password_step(other, user)
    replay = other.post("/auth/two-factor", data={"code": code})
    assert replay.status_code == 200
    assert "already used" in replay.get_data(as_text=True)
    assert other.get("/therapist/").status_code == 302
    clock.advance(seconds=30)  # the next step's code works
    assert other.post("/auth/two-factor", data={"code": _code(secret, client)}).status_code == 302
    assert "auth.second_factor_failed" in db.session.scalars(select(AuditEvent.action)).all()


def test_codes_of_the_neighbouring_steps_are_accepted_and_older_ones_not(client, factory, clock) -> None:
    user = factory.user("admin")
    secret = db.session.get(SecondFactor, user.id).secret
    totp = pyotp.TOTP(secret)
    _password_step(client, user)
    too_old = totp.at(clock.now.timestamp() - 90)
    assert client.post("/auth/two-factor", data={"code": too_old}).status_code == 200
    previous = totp.at(clock.now.timestamp() - 30)
    assert client.post("/auth/two-factor", data={"code": previous}).status_code == 302


def test_recovery_codes_are_stored_hashed_and_single_use(app, client, factory) -> None:
    user = factory.user("therapist")
    codes = second_factor.new_recovery_codes(db.session, user, now=security_now(app))
    db.session.commit()
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert all(code.replace("-", "") not in (row.code_hash + row.salt) for row in stored for code in codes)
    _password_step(client, user)
    used = client.post("/auth/two-factor", data={"code": codes[3].upper()})  # case and dash do not matter
    assert used.status_code == 302
    assert second_factor.recovery_codes_left(db.session, user) == 9
    again = app.test_client()
    _password_step(again, user)
    assert again.post("/auth/two-factor", data={"code": codes[3]}).status_code == 200


def test_first_login_of_staff_without_a_second_factor_enrols_them(client, factory) -> None:
    user = factory.user("therapist", totp=False)
    response = _password_step(client, user)
    assert response.headers["Location"] == "/auth/two-factor/setup"
    page = client.get("/auth/two-factor/setup").get_data(as_text=True)
    key = re.search(r'<code class="setup-key"[^>]*>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert "otpauth://totp/" in page and "data:image/svg+xml" in page
    assert client.get("/therapist/").status_code == 302  # nothing else until enrolled
    assert client.get("/auth/two-factor/setup").get_data(as_text=True).count(key[:4]) >= 1  # same key on reload
    wrong = client.post("/auth/two-factor/setup", data={"code": "123456" if _code(key, client) != "123456" else "654321"})
    assert wrong.status_code == 200 and "does not match" in wrong.get_data(as_text=True)
    done = client.post("/auth/two-factor/setup", data={"code": _code(key, client)})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Your recovery codes" in html
    assert len(re.findall(r"<li><code>[a-z0-9]{5}-[a-z0-9]{5}</code></li>", html)) == 10
    assert client.get("/therapist/").status_code == 200
    factor = db.session.get(SecondFactor, user.id)
    db.session.refresh(factor)
    assert factor.secret == key and factor.pending_secret is None


def test_patients_log_in_without_a_second_factor_and_may_turn_one_on(client, factory) -> None:
    user = factory.user("patient")
    assert _password_step(client, user).headers["Location"] == "/me/"
    start = client.post("/account/two-factor/start")
    assert start.headers["Location"] == "/account/two-factor/confirm"
    page = client.get("/account/two-factor/confirm").get_data(as_text=True)
    key = re.search(r'<code class="setup-key"[^>]*>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    done = client.post("/account/two-factor/confirm", data={"code": _code(key, client)})
    assert done.status_code == 200 and "Your recovery codes" in done.get_data(as_text=True)
    assert client.get("/me/").status_code == 200
    client.post("/auth/logout")
    assert _password_step(client, user).headers["Location"] == "/auth/two-factor"  # now required
    client.post("/auth/two-factor", data={"code": totp_code(client, user)})
    off = client.post("/account/two-factor/disable")
    assert off.status_code == 302
    assert not second_factor.is_enrolled(db.session, user)


def test_staff_cannot_turn_the_second_factor_off(client, therapist) -> None:
    login(client, therapist)
    assert client.post("/account/two-factor/disable").status_code == 403
    assert second_factor.is_enrolled(db.session, therapist)


def test_wrong_second_factor_codes_are_throttled(client, factory) -> None:
    user = factory.user("therapist")
    _password_step(client, user)
    statuses = [client.post("/auth/two-factor", data={"code": "000000"}).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429


def test_demo_staff_have_fixed_keys_and_the_cli_prints_codes_for_demo_accounts_only(app, runner, factory) -> None:
    from icbt.demo import seed_demo

    seed_demo(db.session, seed=3)
    db.session.commit()
    result = runner.invoke(args=["users", "totp", "therapist1@demo.example"])
    assert result.exit_code == 0, result.output
    secret = second_factor.demo_secret("therapist1@demo.example")
    assert result.output.split()[0] == pyotp.TOTP(secret).now()
    assert runner.invoke(args=["users", "totp", "patient07@demo.example"]).exit_code != 0
    real = factory.user("therapist", email="real@clinic.example")
    assert runner.invoke(args=["users", "totp", real.email]).exit_code != 0
    demo = runner.invoke(args=["demo"])
    assert secret in demo.output and "users totp" in demo.output


def test_reset_second_factor_cli_makes_staff_enrol_again(runner, client, therapist) -> None:
    result = runner.invoke(args=["users", "reset-second-factor", therapist.email, "--yes"])
    assert result.exit_code == 0, result.output
    assert _password_step(client, therapist).headers["Location"] == "/auth/two-factor/setup"


def test_the_demo_with_its_public_keys_is_refused_in_production(app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "NAME", "production")
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0 and "refused in production" in result.output


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "ä12345", "12345\u00e9", "１２３４５６"])
def test_non_ascii_codes_are_a_form_error_not_a_500(client, factory, code) -> None:
    """Found by the wapiti scan of the merged app: a non-ASCII code made compare_digest raise."""
    from icbt.security import second_factor

    assert not second_factor.looks_like_totp(code)
    user = factory.user("therapist", totp=False)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    location = response.headers["Location"]
    assert location.startswith("/auth/two-factor/setup")
    page = client.post(location, data={"code": code})
    assert page.status_code in (200, 400)
    assert "recovery codes" not in page.get_data(as_text=True)
