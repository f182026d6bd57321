"""Request-level security: wired by ``init_security(app)`` before the blueprints register."""
from __future__ import annotations

from flask import Flask, redirect, request, session
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from icbt import clock
from icbt.security.sessions import DEFAULT_ABSOLUTE, DEFAULT_IDLE, DEFAULT_REAUTH_MAX_AGE

# Largest id a URL may carry: PostgreSQL's INTEGER. A larger number is a 404, not an
# out-of-range database error (a 500).
MAX_ID = 2**31 - 1

# Seconds between refreshes of the last-activity time in the session cookie.
SEEN_RESOLUTION = 30


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that never exceeds a database integer."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # type: ignore[no-untyped-def]  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max, signed=signed)


def init_security(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.config.setdefault("SESSION_IDLE_TIMEOUT", dict(DEFAULT_IDLE))
    app.config.setdefault("SESSION_ABSOLUTE_LIFETIME", DEFAULT_ABSOLUTE)
    app.config.setdefault("REAUTH_MAX_AGE", DEFAULT_REAUTH_MAX_AGE)

    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind N reverse proxies, the client address is the N-th from the right in
        # X-Forwarded-For; without this every client would share the proxy's address.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)  # type: ignore[method-assign]

    @app.before_request
    def _https_only():  # type: ignore[no-untyped-def]
        # Production answers plain HTTP only with a redirect to HTTPS (308 keeps the
        # method and body); the health check stays reachable for a load balancer.
        if app.config.get("FORCE_HTTPS") and not request.is_secure and request.endpoint != "public.healthz":
            return redirect("https://" + request.url.split("://", 1)[1], code=308)
        return None

    @app.before_request
    def _refresh_last_activity() -> None:
        # Loading the user checks the idle timeout against the previous request's time;
        # then this request becomes the last activity (in the signed cookie: no DB write).
        # The cookie is re-signed at most once per SEEN_RESOLUTION seconds: an idle timeout
        # of 15 or 30 minutes does not need a new cookie on every request.
        if request.endpoint != "static" and current_user.is_authenticated:
            now = clock.timestamp()
            seen = session.get("seen")
            if not isinstance(seen, int) or not 0 <= now - seen < SEEN_RESOLUTION:
                session["seen"] = now

    @app.after_request
    def _no_store(response):  # type: ignore[no-untyped-def]
        # Every page may show health data or account details: never kept in a cache.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
