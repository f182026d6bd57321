"""Error pages that say what happened in plain words, never a stack trace."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from icbt.extensions import db

MESSAGES = {
    400: (_l("Something in the request was not right"), _l("The page could not use what was sent. Go back, check the form and try again.")),
    403: (_l("You do not have access to this page"), _l("Your account cannot open this page. If you think it should, contact your therapist or the trial team.")),
    404: (_l("Page not found"), _l("There is no page at this address. It may have moved, or the link may be mistyped.")),
    405: (_l("That action is not possible here"), _l("This page cannot be used that way. Go back and use the buttons on the page.")),
    413: (_l("What you sent is too large"), _l("Shorten the text or send a smaller file, then try again.")),
    429: (_l("Too many attempts"), _l("Please wait a little before you try again.")),
    500: (_l("Something went wrong on our side"), _l("Nothing you did caused this. What you had already saved is safe. Please try again in a moment.")),
    503: (_l("The platform is briefly unavailable"), _l("We cannot reach our database right now. Nothing you saved has been lost. Please try again in a few minutes.")),
}


def render_error(code: int, detail: str | None = None):  # type: ignore[no-untyped-def]
    title, text = MESSAGES.get(code, MESSAGES[500])
    try:
        body = render_template("errors/error.html", code=code, title=title, text=detail or text)
    except Exception:  # the template itself failed: fall back to plain text
        body = f"{code} {title}\n\n{text}"
    return body, code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_error(400, str(_l("The form expired or was sent from another page. Reload the page and send it again; what you typed may need to be entered again.")))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error
        response_body, code = render_error(error.code)
        response = app.make_response((response_body, code))
        if error.code == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database(error: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        app.logger.error("database error on %s %s: %s", request.method, request.path, error.__class__.__name__)
        if isinstance(error, OperationalError) or getattr(error, "connection_invalidated", False):
            response = app.make_response(render_error(503))
            response.headers["Retry-After"] = "30"
            return response
        return render_error(500)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return render_error(500)
