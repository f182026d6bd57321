"""Server-side sessions, second factors, recovery codes and login-failure counters."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from icbt.db import Base, utcnow


class UserSession(Base):
    """One logged-in browser session. The signed cookie carries a random id whose SHA-256
    is ``id`` here; a cookie whose row is ended (logout, password change, deactivation)
    or too old is refused, so a replayed cookie is worthless after logout."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_ended", "user_id", "ended_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How the second factor was passed: "totp", "recovery", or None (patient without one).
    second_factor: Mapped[str | None] = mapped_column(String(16))
    # Last re-authentication (password, and second factor if enrolled) in this session.
    reauth_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class SecondFactor(Base):
    """A user's TOTP authenticator (RFC 6238, 30 s steps, 6 digits).

    ``secret`` is the confirmed one; ``pending_secret`` is being set up and becomes
    ``secret`` once the user proves their app shows matching codes. ``last_used_step``
    makes each code single use: a code is accepted only for a later step than the last.
    """

    __tablename__ = "second_factors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[dt.datetime | None]
    pending_secret: Mapped[str | None] = mapped_column(String(64))
    pending_created_at: Mapped[dt.datetime | None]
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RecoveryCode(Base):
    """A single-use recovery code, stored as a salted SHA-256 (the codes carry 50 bits of
    randomness, so a slow hash adds nothing)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None]


class LoginThrottle(Base):
    """Failure counter for one key (an account, a client address, a trusted device, a
    second-factor prompt). Shared by every worker process through the database."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_failure_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
