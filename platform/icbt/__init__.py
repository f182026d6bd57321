"""The tailored ICBT platform. ``create_app(config)`` builds one application."""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask, request
from flask_login import current_user

__version__ = "0.1.0"


def create_app(config: Any = None) -> Flask:
    """Build the app from ``config``: a config object (see config.py) or a mapping.

    Without ``config`` the embedded default is used (``config.load_config()``).
    """
    if config is None:
        from config import load_config  # the top-level config.py beside wsgi.py

        config = load_config()
    settings: Mapping[str, Any] = config if isinstance(config, Mapping) else config.as_dict()

    app = Flask(__name__, instance_path=str(settings["INSTANCE_PATH"]))
    app.config.from_mapping(settings)
    app.config.setdefault("SOFTWARE_VERSION", __version__)
    os.makedirs(app.instance_path, exist_ok=True)

    _init_extensions(app)

    from icbt import content

    content.init_app(app)  # the module library and tailoring rules: a bad file stops start-up here
    _register_blueprints(app)
    _register_request_hooks(app)

    from icbt.labels import register_filters

    register_filters(app)

    from icbt.errors import register_error_handlers

    register_error_handlers(app)

    from icbt.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from icbt import models  # noqa: F401  (complete metadata before anything queries)
    from icbt.extensions import babel, csrf, db, login_manager, queue

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    from icbt import i18n

    i18n.install(app)  # templates translate with the request's cached translations
    queue.init_app(app)
    from icbt import pagecache

    pagecache.init_app(app)

    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself

    from icbt.auth.session import load_user

    login_manager.user_loader(load_user)

    from icbt.security.hooks import init_security

    init_security(app)  # before the blueprints: it bounds the <int:> URL converter

    from icbt import tasks  # noqa: F401  (register background tasks on the queue)
    from icbt.measures import instruments

    instruments.init_app(app)  # validate the instrument files at start-up


def _select_locale() -> str | None:
    languages = tuple(request.accept_languages.values()) if request else ()
    supported = ("en",)
    return request.accept_languages.best_match(supported) if languages else "en"


def _register_blueprints(app: Flask) -> None:
    from icbt.admin.routes import bp as admin_bp
    from icbt.auth.routes import bp as auth_bp
    from icbt.messaging.routes import bp as messaging_bp
    from icbt.patients.routes import bp as patient_bp
    from icbt.therapists.routes import bp as therapist_bp
    from icbt.public import bp as public_bp
    from icbt.reports.routes import bp as reports_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(patient_bp)
    app.register_blueprint(therapist_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(messaging_bp)
    app.register_blueprint(reports_bp)
    from icbt.measures.routes import bp as measures_bp

    app.register_blueprint(measures_bp)

    from icbt.admin.randomisation import bp as admin_randomisation_bp
    from icbt.patients.programme import bp as patient_programme_bp
    from icbt.therapists.programme import bp as therapist_programme_bp

    app.register_blueprint(patient_programme_bp)
    app.register_blueprint(therapist_programme_bp)
    app.register_blueprint(admin_randomisation_bp)

    from icbt.account.routes import bp as account_bp
    from icbt.audit.routes import bp as audit_bp

    app.register_blueprint(account_bp)
    app.register_blueprint(audit_bp)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)


def _register_request_hooks(app: Flask) -> None:
    from sqlalchemy.exc import DBAPIError, OperationalError

    from icbt.extensions import db

    @app.after_request
    def _commit_and_secure(response):  # type: ignore[no-untyped-def]
        # One commit per request: services flush, the request commits when it succeeded.
        if response.status_code < 400:
            try:
                db.session.commit()
            except DBAPIError as error:  # the write was not accepted: say so, never a 200
                db.session.rollback()
                app.logger.error("commit failed on %s %s: %s", request.method, request.path, error.__class__.__name__)
                from icbt.errors import render_error

                unavailable = isinstance(error, OperationalError)
                response = app.make_response(render_error(503 if unavailable else 500))
                if unavailable:
                    response.headers["Retry-After"] = "30"
        else:
            db.session.rollback()
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if current_user and current_user.is_authenticated and not request.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response
