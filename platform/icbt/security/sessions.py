"""Server-side session records. Services take the database session and flush."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from icbt.security.models import UserSession
from icbt.users.models import User

DEFAULT_IDLE = {"patient": 30 * 60, "therapist": 15 * 60, "admin": 15 * 60}
DEFAULT_ABSOLUTE = 12 * 3600
DEFAULT_REAUTH_MAX_AGE = 5 * 60


def hash_sid(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


def idle_timeout(role: str) -> int:
    configured = current_app.config.get("SESSION_IDLE_TIMEOUT") or {}
    return int(configured.get(role, DEFAULT_IDLE.get(role, 15 * 60)))


def absolute_lifetime() -> int:
    return int(current_app.config.get("SESSION_ABSOLUTE_LIFETIME", DEFAULT_ABSOLUTE))


def reauth_max_age() -> int:
    return int(current_app.config.get("REAUTH_MAX_AGE", DEFAULT_REAUTH_MAX_AGE))


def start(
    session: Session,
    user: User,
    *,
    now: dt.datetime,
    second_factor: str | None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, UserSession]:
    """A new session for ``user``; returns the id for the cookie (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    row = UserSession(
        id=hash_sid(raw),
        user_id=user.id,
        created_at=now,
        second_factor=second_factor,
        reauth_at=now,  # the login itself is a fresh authentication
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return raw, row


def get(session: Session, raw: str | None) -> UserSession | None:
    if not raw or not isinstance(raw, str) or len(raw) > 200:
        return None
    return session.get(UserSession, hash_sid(raw))


# Built once: every request runs it, and building a statement costs more than running it.
_USER_AND_SESSION = (
    select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
    .where(User.id == bindparam("uid"), UserSession.id == bindparam("sid"))
)


def get_with_user(session: Session, raw: str | None, user_id: int) -> tuple[User | None, UserSession | None]:
    """The user ``user_id`` and the session row of ``raw`` in one query when the row
    belongs to that user (every request does this); else the user alone (row None)."""
    if raw and isinstance(raw, str) and len(raw) <= 200:
        found = session.execute(_USER_AND_SESSION, {"uid": user_id, "sid": hash_sid(raw)}).first()
        if found is not None:
            return found[0], found[1]
    return session.get(User, user_id), None


def end(session: Session, row: UserSession | None, *, now: dt.datetime, reason: str) -> None:
    if row is not None and row.ended_at is None:
        row.ended_at = now
        row.end_reason = reason[:32]
        session.flush()


def end_all(session: Session, user: User, *, now: dt.datetime, reason: str, keep: UserSession | None = None) -> int:
    """End every open session of ``user`` (except ``keep``); returns how many."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason[:32])
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    result = session.execute(stmt)
    return result.rowcount or 0


def open_sessions(session: Session, user: User) -> list[UserSession]:
    return list(session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.created_at.desc()).limit(50)
    ))


def problem(row: UserSession | None, user: User, *, now: dt.datetime, seen: int | None) -> str | None:
    """Why this session may not be used (None: it may). ``seen`` is the last activity
    carried in the signed cookie (epoch seconds)."""
    if row is None or row.user_id != user.id:
        return "unknown"
    if row.ended_at is not None:
        return "ended"
    if (now - row.created_at).total_seconds() > absolute_lifetime():
        return "expired"
    if not isinstance(seen, int) or now.timestamp() - seen > idle_timeout(user.role):
        return "idle"
    if user.role != "patient" and row.second_factor is None:
        return "no_second_factor"
    return None


def recently_authenticated(row: UserSession | None, *, now: dt.datetime) -> bool:
    if row is None or row.reauth_at is None:
        return False
    return (now - row.reauth_at).total_seconds() <= reauth_max_age()


def mark_reauthenticated(session: Session, row: UserSession, *, now: dt.datetime) -> None:
    row.reauth_at = now
    session.flush()
