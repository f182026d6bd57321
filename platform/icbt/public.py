"""Routes anyone may reach: the front door and a health check."""
from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from icbt.extensions import db

bp = Blueprint("public", __name__)


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        from icbt.auth.routes import home_url_for

        return redirect(home_url_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
