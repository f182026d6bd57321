"""Flask-Login glue: the session carries the user id and the account's session token."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from icbt.extensions import db
from icbt.users.models import User


def load_user(user_id: str) -> User | None:
    try:
        raw_id, token = user_id.split(":", 1)
        uid = int(raw_id)
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_token != token:
        return None  # logged out elsewhere, password changed or account deactivated
    return user


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
    return target
