"""Creating accounts and checking credentials. Services flush; the request commits."""
from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.db import utcnow
from icbt.users.models import Role, User
from icbt.users.passwords import dummy_verify, hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_session_token() -> str:
    return secrets.token_hex(16)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Use at most {MAX_PASSWORD_LENGTH} characters.")


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role | str,
    display_name: str,
    actor: User | None = None,
) -> User:
    role = Role(role)
    email = normalise_email(email)
    check_password_policy(password)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise AccountError("An account with this e-mail address already exists.")
    user = User(
        email=email,
        display_name=display_name.strip(),
        role=role.value,
        password_hash=hash_password(password),
        session_token=new_session_token(),
    )
    session.add(user)
    session.flush()
    record(session, "user.create", actor=actor, target=user, detail={"role": role.value})
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user for these credentials, or None. Unknown users cost the same time."""
    user = get_user_by_email(session, email)
    if user is None:
        dummy_verify(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None = None) -> None:
    check_password_policy(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()  # every other session is logged out
    session.flush()
    record(session, "user.password_change", actor=actor or user, target=user)
