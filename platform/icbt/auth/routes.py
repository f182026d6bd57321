from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from icbt.audit.services import record
from icbt.auth.forms import LoginForm
from icbt.auth.session import safe_next
from icbt.extensions import db
from icbt.users.services import authenticate

bp = Blueprint("auth", __name__, url_prefix="/auth")

HOME_BY_ROLE = {"patient": "patient.dashboard", "therapist": "therapist.caseload", "admin": "admin.dashboard"}


def home_url_for(user) -> str:  # type: ignore[no-untyped-def]
    return url_for(HOME_BY_ROLE[user.role])


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None:
            record(db.session, "auth.login_failed", detail={"email_hash": _email_fingerprint(form.email.data or "")})
            db.session.commit()
            form.password.errors.append(_("The e-mail address or password is not right."))
            return render_template("auth/login.html", form=form), 200
        session.clear()  # a fresh session at login (no fixation)
        login_user(user)
        record(db.session, "auth.login", actor=user, target=user)
        return redirect(safe_next(form.next.data) or home_url_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    record(db.session, "auth.logout", target=current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _email_fingerprint(email: str) -> str:
    """A short hash of the attempted e-mail: failures can be grouped without storing it."""
    import hashlib

    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:16]
