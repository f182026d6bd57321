"""TOTP second factor (RFC 6238: SHA-1, 30-second steps, 6 digits, as every authenticator
app expects) and single-use recovery codes.

Required for therapists and admins, optional for patients. Each TOTP code is accepted
once: only for a later step than the last accepted one (stored), within one step of the
server's clock either way. Recovery codes (10, about 50 bits each) are stored as salted
SHA-256 hashes and marked used atomically.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from urllib.parse import quote

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.security.models import RecoveryCode, SecondFactor
from icbt.users.models import User

STEP = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of the current one (clock drift)
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 10
_NOT_CODE = re.compile(r"[\s\-]+")


class SecondFactorError(ValueError):
    """A code that cannot be accepted; the message is for the user."""


def is_staff(user: User) -> bool:
    return user.role in ("therapist", "admin")


def get(session: Session, user: User) -> SecondFactor | None:
    return session.get(SecondFactor, user.id)


def is_enrolled(session: Session, user: User) -> bool:
    factor = get(session, user)
    return factor is not None and factor.secret is not None and factor.confirmed_at is not None


def required(session: Session, user: User) -> bool:
    """Staff always; patients once they have set one up."""
    return is_staff(user) or is_enrolled(session, user)


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def demo_secret(email: str) -> str:
    """The fixed secret of a demo staff account (the demo is not production)."""
    digest = hashlib.sha256(f"icbt-demo-totp:{email.strip().lower()}".encode()).digest()[:20]
    return base64.b32encode(digest).decode("ascii")


def step_of(now: dt.datetime) -> int:
    return int(now.timestamp()) // STEP


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).at(step * STEP)


def current_code(secret: str, now: dt.datetime) -> str:
    return code_at(secret, step_of(now))


def issuer() -> str:
    return str(current_app.config.get("TOTP_ISSUER", "ICBT platform"))


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(name=user.email, issuer_name=issuer())


def qr_svg_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data URI for an <img> (no script, no style)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#111", light="#fff")


def grouped(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: dt.datetime, after: int | None) -> int | None:
    # Only ASCII digits can be a code (compare_digest refuses non-ASCII str, and Unicode
    # digits such as "١" pass isdigit()); anything else simply does not match.
    if not (code.isascii() and code.isdigit()):
        return None
    current = step_of(now)
    for step in (current - WINDOW, *range(current, current + WINDOW + 1)):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(code_at(secret, step).encode("ascii"), code.encode("ascii")):
            return step
    return None


def _normalise_code(code: str) -> str:
    return _NOT_CODE.sub("", (code or "")).lower()[:64]


def looks_like_totp(code: str) -> bool:
    text = _normalise_code(code)
    return len(text) == DIGITS and text.isascii() and text.isdigit()


def start_enrolment(session: Session, user: User, *, now: dt.datetime, fresh: bool = False) -> SecondFactor:
    """Create (or, unless ``fresh``, keep) a pending secret for ``user`` to add to an app."""
    factor = get(session, user)
    if factor is None:
        factor = SecondFactor(user_id=user.id, created_at=now)
        session.add(factor)
    if fresh or factor.pending_secret is None:
        factor.pending_secret = new_secret()
        factor.pending_created_at = now
    session.flush()
    return factor


def confirm_enrolment(session: Session, user: User, code: str, *, now: dt.datetime) -> list[str]:
    """Make the pending secret the user's second factor if ``code`` matches it; returns
    new recovery codes (shown once). Raises SecondFactorError otherwise."""
    factor = get(session, user)
    if factor is None or factor.pending_secret is None:
        raise SecondFactorError(str(_l("Start the setup again: no setup is in progress.")))
    step = _matching_step(factor.pending_secret, _normalise_code(code), now, None)
    if step is None:
        raise SecondFactorError(str(_l("That code does not match. Check the time on your phone and enter the newest code.")))
    replaced = factor.secret is not None
    factor.secret = factor.pending_secret
    factor.confirmed_at = now
    factor.last_used_step = step
    factor.pending_secret = None
    factor.pending_created_at = None
    session.flush()
    codes = new_recovery_codes(session, user, now=now, audit=False)
    record(session, "second_factor.enrol", actor=user, target=user, detail={"replaced": replaced})
    return codes


def set_secret(session: Session, user: User, secret: str, *, now: dt.datetime, actor: User | None = None) -> SecondFactor:
    """Give ``user`` a confirmed second factor with ``secret`` (demo seed, tests, provisioning)."""
    factor = get(session, user)
    if factor is None:
        factor = SecondFactor(user_id=user.id, created_at=now)
        session.add(factor)
    factor.secret = secret
    factor.confirmed_at = now
    factor.last_used_step = None
    factor.pending_secret = None
    session.flush()
    record(session, "second_factor.provision", actor=actor, target=user)
    return factor


def remove(session: Session, user: User, *, actor: User | None = None, reason: str = "user") -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    factor = get(session, user)
    if factor is not None:
        session.delete(factor)
    session.flush()
    record(session, "second_factor.remove", actor=actor or user, target=user, detail={"reason": reason})


def _hash_code(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode("utf-8")).hexdigest()


def new_recovery_codes(session: Session, user: User, *, now: dt.datetime, audit: bool = True) -> list[str]:
    """Replace ``user``'s recovery codes with new ones; returns them for display, once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        code = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        salt = secrets.token_hex(8)
        session.add(RecoveryCode(user_id=user.id, salt=salt, code_hash=_hash_code(salt, code), created_at=now))
        codes.append(f"{code[:5]}-{code[5:]}")
    session.flush()
    if audit:
        record(session, "second_factor.recovery_codes", actor=user, target=user, detail={"count": len(codes)})
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return int(session.scalar(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0)


def verify(session: Session, user: User, code: str, *, now: dt.datetime) -> str | None:
    """``"totp"`` or ``"recovery"`` when ``code`` passes (and is used up), else None."""
    factor = get(session, user)
    if factor is None or factor.secret is None or factor.confirmed_at is None:
        return None
    text = _normalise_code(code)
    if looks_like_totp(text):
        step = _matching_step(factor.secret, text, now, factor.last_used_step)
        if step is None:
            return None
        # Atomic: of two requests with the same code, only one moves the step forward.
        moved = session.execute(
            update(SecondFactor)
            .where(SecondFactor.user_id == user.id)
            .where((SecondFactor.last_used_step.is_(None)) | (SecondFactor.last_used_step < step))
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.refresh(factor)
        return "totp" if moved == 1 else None
    if len(text) != RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in text):
        return None
    candidates = session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for candidate in candidates:
        if hmac.compare_digest(candidate.code_hash, _hash_code(candidate.salt, text)):
            used = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == candidate.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.refresh(candidate)
            return "recovery" if used == 1 else None
    return None
