"""Account settings for every role. Changing how one logs in (e-mail, password, second
factor, recovery codes) needs a re-authentication within the last few minutes."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from icbt.access import deny
from icbt.account.forms import ConfirmIdentityForm, EmailForm, NameForm, PasswordForm
from icbt.audit.services import record
from icbt.auth.routes import too_many_attempts
from icbt.auth.session import current_session_row, renew_session, safe_next
from icbt.extensions import db
from icbt import clock
from icbt.security import second_factor, throttle
from icbt.security import sessions as user_sessions
from icbt.security.throttle import email_key
from icbt.users.passwords import verify_password
from icbt.users.services import AccountError, change_email, set_display_name, set_password

bp = Blueprint("account", __name__, url_prefix="/account")


def _user():  # type: ignore[no-untyped-def]
    return current_user._get_current_object()


def recent_auth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send the user to confirm their identity unless they did so in the last minutes."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not user_sessions.recently_authenticated(current_session_row(), now=clock.now()):
            target = request.full_path if request.method == "GET" else url_for("account.index")
            return redirect(url_for("account.confirm", next=target.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = _user()
    form = NameForm(data={"display_name": user.display_name})
    return render_template("account/index.html", name_form=form, **_factor_state(user))


def _factor_state(user) -> dict:  # type: ignore[no-untyped-def]
    enrolled = second_factor.is_enrolled(db.session, user)
    return {
        "enrolled": enrolled,
        "codes_left": second_factor.recovery_codes_left(db.session, user) if enrolled else 0,
        "staff": second_factor.is_staff(user),
    }


@bp.route("/name", methods=["POST"])
@login_required
def name():  # type: ignore[no-untyped-def]
    user = _user()
    form = NameForm()
    if form.validate_on_submit():
        try:
            set_display_name(db.session, user, form.display_name.data or "")
        except AccountError as error:
            form.display_name.errors.append(str(error))
        else:
            flash(_("Your name is saved."), "success")
            return redirect(url_for("account.index"))
    return render_template("account/index.html", name_form=form, **_factor_state(user)), 200


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirm():  # type: ignore[no-untyped-def]
    user = _user()
    needs_code = second_factor.is_enrolled(db.session, user)
    form = ConfirmIdentityForm()
    next_url = safe_next(request.args.get("next")) or url_for("account.index")
    if form.validate_on_submit():
        now = clock.now()
        keys = [email_key(user.email)] + ([f"2fa:{user.id}"] if needs_code else [])
        wait = throttle.retry_after(db.session, keys, now)
        if wait:
            return too_many_attempts(wait, action="auth.reauth_throttled", target=user)
        if not verify_password(user.password_hash, form.password.data or ""):
            throttle.register_failure(db.session, keys[:1], now)
            record(db.session, "auth.reauth_failed", target=user, detail={"reason": "password"})
            db.session.commit()
            form.password.errors.append(_("That password is not right."))
        elif needs_code and second_factor.verify(db.session, user, form.code.data or "", now=now) is None:
            throttle.register_failure(db.session, keys[1:], now)
            record(db.session, "auth.reauth_failed", target=user, detail={"reason": "second_factor"})
            db.session.commit()
            form.code.errors.append(_("That code is not right or was already used."))
        else:
            throttle.clear(db.session, keys)
            user_sessions.mark_reauthenticated(db.session, current_session_row(), now=now)
            record(db.session, "auth.reauth", target=user)
            return redirect(next_url)
    return render_template("account/confirm.html", form=form, needs_code=needs_code)


@bp.route("/password", methods=["GET", "POST"])
@recent_auth_required
def password():  # type: ignore[no-untyped-def]
    user = _user()
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            set_password(db.session, user, form.password.data or "", actor=user)
        except AccountError as error:
            form.password.errors.append(str(error))
        else:
            renew_session(user, reason="password_change")
            flash(_("Your password is changed. You were logged out on every other device."), "success")
            return redirect(url_for("account.index"))
    return render_template("account/password.html", form=form)


@bp.route("/email", methods=["GET", "POST"])
@recent_auth_required
def email():  # type: ignore[no-untyped-def]
    user = _user()
    form = EmailForm()
    if request.method == "GET":
        form.email.data = user.email
    if form.validate_on_submit():
        try:
            change_email(db.session, user, form.email.data or "")
        except AccountError as error:
            form.email.errors.append(str(error))
        else:
            flash(_("Your e-mail address is changed. Use it the next time you log in."), "success")
            return redirect(url_for("account.index"))
    return render_template("account/email.html", form=form)


@bp.route("/two-factor")
@login_required
def two_factor():  # type: ignore[no-untyped-def]
    return render_template("account/two_factor.html", **_factor_state(_user()))


@bp.route("/two-factor/start", methods=["POST"])
@recent_auth_required
def two_factor_start():  # type: ignore[no-untyped-def]
    second_factor.start_enrolment(db.session, _user(), now=clock.now(), fresh=True)
    return redirect(url_for("account.two_factor_confirm"))


@bp.route("/two-factor/confirm", methods=["GET", "POST"])
@recent_auth_required
def two_factor_confirm():  # type: ignore[no-untyped-def]
    from icbt.auth.forms import ConfirmSetupForm

    user = _user()
    factor = second_factor.get(db.session, user)
    if factor is None or factor.pending_secret is None:
        return redirect(url_for("account.two_factor"))
    form = ConfirmSetupForm()
    if form.validate_on_submit():
        now = clock.now()
        keys = [f"2fa:{user.id}"]
        wait = throttle.retry_after(db.session, keys, now)
        if wait:
            return too_many_attempts(wait, action="auth.second_factor_throttled", target=user)
        try:
            codes = second_factor.confirm_enrolment(db.session, user, form.code.data or "", now=now)
        except second_factor.SecondFactorError as error:
            throttle.register_failure(db.session, keys, now)
            db.session.commit()
            form.code.errors.append(str(error))
        else:
            throttle.clear(db.session, keys)
            renew_session(user, reason="second_factor_change", second_factor="totp")
            return render_template("account/recovery_codes.html", codes=codes, continue_url=url_for("account.index"), first_time=True)
    uri = second_factor.provisioning_uri(factor.pending_secret, user)
    return render_template(
        "account/two_factor_confirm.html", form=form, secret=second_factor.grouped(factor.pending_secret),
        uri=uri, qr=second_factor.qr_svg_data_uri(uri), action=url_for("account.two_factor_confirm"),
    )


@bp.route("/two-factor/disable", methods=["POST"])
@recent_auth_required
def two_factor_disable():  # type: ignore[no-untyped-def]
    user = _user()
    if second_factor.is_staff(user):
        deny("staff must keep a second factor")  # they can move it to a new phone instead
    if second_factor.get(db.session, user) is not None:
        second_factor.remove(db.session, user, actor=user)
        renew_session(user, reason="second_factor_change", second_factor=None)
        flash(_("The second factor is turned off."), "info")
    return redirect(url_for("account.two_factor"))


@bp.route("/recovery-codes", methods=["POST"])
@recent_auth_required
def recovery_codes():  # type: ignore[no-untyped-def]
    user = _user()
    if not second_factor.is_enrolled(db.session, user):
        return redirect(url_for("account.two_factor"))
    codes = second_factor.new_recovery_codes(db.session, user, now=clock.now())
    return render_template("account/recovery_codes.html", codes=codes, continue_url=url_for("account.two_factor"), first_time=False)
