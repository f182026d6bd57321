"""Flask-Login glue and the session's life cycle.

The signed cookie carries: the user id with the account's ``session_token`` (changed at
password change, role change and deactivation: every session of the account ends), the
id of a server-side ``UserSession`` row (ended at logout: a replayed cookie is refused),
and ``seen``, the time of the last request (idle timeout without a write per request).
A login that still needs the second factor carries only ``pending_login``, never a
logged-in user: until the second factor is passed, every page but the second-factor
pages sees an anonymous visitor (deny by default).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, g, request, session
from flask_login import login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from icbt.audit.services import record
from icbt.extensions import db
from icbt import clock
from icbt.security import sessions as user_sessions
from icbt.security.throttle import address_key, email_key
from icbt.users.models import User

SID = "sid"
SEEN = "seen"
PENDING = "pending_login"
LOGOUT_REASON = "logout_reason"
PENDING_LIFETIME = 10 * 60
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600


def _parse_user_id(user_id: str) -> tuple[int, str] | None:
    try:
        raw_id, token = user_id.split(":", 1)
        uid = int(raw_id)
    except (ValueError, AttributeError):
        return None
    if uid < 1 or uid > 2**31 - 1:
        return None
    return uid, token


def load_user(user_id: str) -> User | None:
    parsed = _parse_user_id(user_id)
    if parsed is None:
        return None
    uid, token = parsed
    # One query for the user and the server-side session row (joined on their ids).
    user, row = user_sessions.get_with_user(db.session, session.get(SID), uid)
    if user is None or not user.active or user.session_token != token:
        return None  # logged out elsewhere, password changed or account deactivated
    now = clock.now()
    problem = user_sessions.problem(row, user, now=now, seen=session.get(SEEN))
    if problem is not None:
        if row is not None and row.ended_at is None and problem in ("idle", "expired"):
            user_sessions.end(db.session, row, now=now, reason=problem)
            record(db.session, "auth.session_" + problem, actor=user, target=user)
        session.clear()
        if problem in ("idle", "expired"):
            session[LOGOUT_REASON] = problem
        return None
    g.user_session = row
    return user


def current_session_row() -> Any:
    return g.get("user_session")


def complete_login(user: User, *, second_factor: str | None) -> None:
    """Log ``user`` in with a brand-new session (no fixation) and a server-side record."""
    session.clear()
    login_user(user)
    now = clock.now()
    raw, row = user_sessions.start(
        db.session, user, now=now, second_factor=second_factor,
        ip=request.remote_addr, user_agent=request.user_agent.string,
    )
    session[SID] = raw
    session[SEEN] = int(now.timestamp())
    g.user_session = row
    user.last_login_at = now
    record(db.session, "auth.login", actor=user, target=user, detail={"second_factor": second_factor or "none"})


def renew_session(user: User, *, reason: str, second_factor: str | None = None) -> None:
    """A new session id after a privilege change (password, second factor): every other
    session of the account ends, this browser stays logged in with a fresh session."""
    now = clock.now()
    old = current_session_row()
    factor = second_factor or (old.second_factor if old is not None else None)
    user_sessions.end_all(db.session, user, now=now, reason=reason)
    session.clear()
    login_user(user)
    raw, row = user_sessions.start(
        db.session, user, now=now, second_factor=factor,
        ip=request.remote_addr, user_agent=request.user_agent.string,
    )
    session[SID] = raw
    session[SEEN] = int(now.timestamp())
    g.user_session = row


def end_current_session(reason: str) -> None:
    user_sessions.end(db.session, current_session_row(), now=clock.now(), reason=reason)


# ---------------------------------------------------------------- pending second factor

def begin_pending(user: User, *, next_url: str | None, mode: str) -> None:
    """Remember a password-checked login that still needs its second factor (``mode``:
    "verify", or "enrol" for staff who have none yet)."""
    session.clear()
    session[PENDING] = {
        "uid": user.id, "tok": user.session_token, "at": clock.timestamp(),
        "next": next_url or "", "mode": mode,
    }


def pending() -> tuple[User, dict] | None:
    data = session.get(PENDING)
    if not isinstance(data, dict):
        return None
    try:
        uid, token, at = int(data["uid"]), str(data["tok"]), int(data["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if clock.timestamp() - at > PENDING_LIFETIME or uid < 1 or uid > 2**31 - 1:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_token != token:
        return None
    return user, data


def clear_pending() -> None:
    session.pop(PENDING, None)


# ---------------------------------------------------------------- trusted-device cookie

def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="icbt.device-cookie")


def device_cookie_name() -> str:
    return str(current_app.config.get("DEVICE_COOKIE_NAME", "icbt_device"))


def trusted_device_nonce(email: str) -> str | None:
    """The nonce of this browser's device cookie if it is valid for ``email``'s account."""
    raw = request.cookies.get(device_cookie_name())
    if not raw or len(raw) > 400:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_COOKIE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != email_key(email):
        return None
    nonce = data.get("n")
    return nonce if isinstance(nonce, str) and 8 <= len(nonce) <= 64 else None


def failure_keys(email: str) -> list[str]:
    """The throttle counters a password attempt for ``email`` from this browser uses."""
    nonce = trusted_device_nonce(email)
    if nonce is not None:
        return [f"dev:{nonce}"]
    return [email_key(email), address_key(request.remote_addr)]


def set_device_cookie(response: Any, email: str) -> None:
    import secrets

    value = _device_serializer().dumps({"a": email_key(email), "n": secrets.token_urlsafe(16)})
    response.set_cookie(
        device_cookie_name(), value, max_age=DEVICE_COOKIE_MAX_AGE, path="/",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), httponly=True, samesite="Lax",
    )


# ---------------------------------------------------------------- redirects

def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect)."""
    if not target or len(target) > 2000:
        return None
    decoded = unquote(target)
    if any(ch in text for text in (target, decoded) for ch in ("\\", "\r", "\n", "\t", "\x00")):
        return None
    if decoded.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        return None
    return target
