"""Logging in (password, then the second factor where one is needed) and out."""
from __future__ import annotations

import math

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user

from icbt.audit.services import record
from icbt.auth.forms import ConfirmSetupForm, LoginForm, SecondFactorForm
from icbt.auth.session import (
    LOGOUT_REASON, begin_pending, clear_pending, complete_login, end_current_session, failure_keys,
    pending, safe_next, set_device_cookie,
)
from icbt.errors import render_error
from icbt.extensions import db
from icbt import clock
from icbt.security import second_factor, throttle
from icbt.users.services import authenticate

bp = Blueprint("auth", __name__, url_prefix="/auth")

HOME_BY_ROLE = {"patient": "patient.dashboard", "therapist": "therapist.caseload", "admin": "admin.dashboard"}


def home_url_for(user) -> str:  # type: ignore[no-untyped-def]
    return url_for(HOME_BY_ROLE[user.role])


def too_many_attempts(seconds: int, *, action: str, **audit):  # type: ignore[no-untyped-def]
    """429 with a page that says how long to wait; the refusal is audit-logged."""
    record(db.session, action, **audit)
    db.session.commit()  # the 429 response rolls back; the audit line must stay
    minutes = max(1, math.ceil(seconds / 60))
    text = ngettext(
        "There were too many unsuccessful attempts. For your safety, please wait %(num)d minute before you try again.",
        "There were too many unsuccessful attempts. For your safety, please wait %(num)d minutes before you try again.",
        minutes,
    )
    body, code = render_error(429, text)
    response = make_response(body, code)
    response.headers["Retry-After"] = str(max(1, seconds))
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = LoginForm()
    reason = session.pop(LOGOUT_REASON, None)
    if reason == "idle":
        flash(_("You were logged out because you were inactive for a while. Please log in again."), "info")
    elif reason == "expired":
        flash(_("Your session has ended. Please log in again."), "info")
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        email = (form.email.data or "").strip()
        now = clock.now()
        keys = failure_keys(email)
        wait = throttle.retry_after(db.session, keys, now)
        if wait:
            return too_many_attempts(wait, action="auth.login_throttled", detail={"email_hash": _email_fingerprint(email)})
        user = authenticate(db.session, email, form.password.data or "")
        if user is None:
            throttle.register_failure(db.session, keys, now)
            record(db.session, "auth.login_failed", detail={"email_hash": _email_fingerprint(email)})
            db.session.commit()
            form.password.errors.append(_("The e-mail address or password is not right."))
            return render_template("auth/login.html", form=form), 200
        throttle.clear(db.session, [k for k in keys if not k.startswith("ip:")])
        next_url = safe_next(form.next.data)
        if second_factor.required(db.session, user):
            enrolled = second_factor.is_enrolled(db.session, user)
            begin_pending(user, next_url=next_url, mode="verify" if enrolled else "enrol")
            record(db.session, "auth.password_ok", actor=user, target=user, detail={"second_factor": "enrolled" if enrolled else "setup"})
            if enrolled:
                return redirect(url_for("auth.two_factor"))
            second_factor.start_enrolment(db.session, user, now=now)
            return redirect(url_for("auth.two_factor_setup"))
        complete_login(user, second_factor=None)
        response = redirect(next_url or home_url_for(user))
        set_device_cookie(response, user.email)
        return response
    return render_template("auth/login.html", form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor():  # type: ignore[no-untyped-def]
    found = _pending_login("verify")
    if not isinstance(found, tuple):
        return found
    user, data = found
    form = SecondFactorForm()
    if form.validate_on_submit():
        now = clock.now()
        keys = [f"2fa:{user.id}"]
        wait = throttle.retry_after(db.session, keys, now)
        if wait:
            return too_many_attempts(wait, action="auth.second_factor_throttled", actor=user, target=user)
        method = second_factor.verify(db.session, user, form.code.data or "", now=now)
        if method is None:
            _second_factor_failed(user, keys, now)
            form.code.errors.append(_("That code is not right or was already used. Enter the newest code from your app, or a recovery code."))
            return render_template("auth/two_factor.html", form=form), 200
        throttle.clear(db.session, keys)
        next_url = safe_next(data.get("next"))
        complete_login(user, second_factor=method)
        if method == "recovery":
            left = second_factor.recovery_codes_left(db.session, user)
            flash(ngettext("You used a recovery code. %(num)d recovery code is left.",
                           "You used a recovery code. %(num)d recovery codes are left.", left), "info")
        response = redirect(next_url or home_url_for(user))
        set_device_cookie(response, user.email)
        return response
    return render_template("auth/two_factor.html", form=form)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
def two_factor_setup():  # type: ignore[no-untyped-def]
    """First login of a staff account without a second factor: set one up, then continue."""
    found = _pending_login("enrol")
    if not isinstance(found, tuple):
        return found
    user, data = found
    factor = second_factor.get(db.session, user)
    if factor is None or factor.pending_secret is None:
        clear_pending()
        flash(_("Please log in again to set up your second factor."), "info")
        return redirect(url_for("auth.login"))
    form = ConfirmSetupForm()
    if form.validate_on_submit():
        now = clock.now()
        keys = [f"2fa:{user.id}"]
        wait = throttle.retry_after(db.session, keys, now)
        if wait:
            return too_many_attempts(wait, action="auth.second_factor_throttled", actor=user, target=user)
        try:
            codes = second_factor.confirm_enrolment(db.session, user, form.code.data or "", now=now)
        except second_factor.SecondFactorError as error:
            _second_factor_failed(user, keys, now)
            form.code.errors.append(str(error))
        else:
            throttle.clear(db.session, keys)
            next_url = safe_next(data.get("next"))
            complete_login(user, second_factor="totp")
            response = make_response(render_template(
                "account/recovery_codes.html", codes=codes, continue_url=next_url or home_url_for(user), first_time=True,
            ))
            set_device_cookie(response, user.email)
            return response
    uri = second_factor.provisioning_uri(factor.pending_secret, user)
    return render_template(
        "auth/two_factor_setup.html", form=form, secret=second_factor.grouped(factor.pending_secret),
        uri=uri, qr=second_factor.qr_svg_data_uri(uri), action=url_for("auth.two_factor_setup"),
    )


def _pending_login(mode: str):  # type: ignore[no-untyped-def]
    """(user, data) of the login waiting for its second factor in ``mode`` ("verify" or
    "enrol"), or the redirect to send instead (already in, not logged in, other mode)."""
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    found = pending()
    if found is None:
        flash(_("Please log in first."), "info")
        return redirect(url_for("auth.login"))
    if found[1].get("mode") != mode:
        return redirect(url_for("auth.two_factor_setup" if mode == "verify" else "auth.two_factor"))
    return found


def _second_factor_failed(user, keys: list[str], now) -> None:  # type: ignore[no-untyped-def]
    """Count a wrong code against the prompt and log it; committed even though the page
    answers with the form again."""
    throttle.register_failure(db.session, keys, now)
    record(db.session, "auth.second_factor_failed", actor=user, target=user)
    db.session.commit()


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    record(db.session, "auth.logout", target=current_user._get_current_object())
    end_current_session("logout")
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _email_fingerprint(email: str) -> str:
    """A short hash of the attempted e-mail: failures can be grouped without storing it."""
    import hashlib

    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:16]
