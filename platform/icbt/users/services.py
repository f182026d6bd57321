"""Creating accounts and checking credentials. Services flush; the request commits."""
from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.db import utcnow
from icbt.users.models import Role, User
from icbt.users.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from icbt.users.password_policy import MESSAGES as PASSWORD_MESSAGES
from icbt.users.password_policy import MIN_LENGTH as MIN_PASSWORD_LENGTH
from icbt.users.password_policy import weakness
from icbt.users.passwords import dummy_verify, hash_password, needs_rehash, verify_password


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_session_token() -> str:
    return secrets.token_hex(16)


def check_password_policy(password: str, *, context: tuple[str | None, ...] = ()) -> None:
    """Raise AccountError unless ``password`` is 12-128 characters and not a common
    password (``context``: the account's e-mail address and name, refused as well)."""
    problem = weakness(password, context=context)
    if problem is not None:
        raise AccountError(str(PASSWORD_MESSAGES[problem]))


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
    check_password_policy(password, context=(email, display_name))
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
    check_password_policy(password, context=(user.email, user.display_name))
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()  # every other session is logged out
    session.flush()
    _end_sessions(session, user, "password_change")
    record(session, "user.password_change", actor=actor or user, target=user)


def _end_sessions(session: Session, user: User, reason: str) -> None:
    from icbt import clock
    from icbt.security.sessions import end_all

    end_all(session, user, now=clock.now(), reason=reason)


def change_email(session: Session, user: User, new_email: str, *, actor: User | None = None) -> None:
    """Change the address ``user`` logs in with (unique, compared case-insensitively)."""
    email = normalise_email(new_email)
    if email == user.email:
        return
    taken = session.scalar(select(func.count()).select_from(User).where(User.email == email, User.id != user.id))
    if taken:
        raise AccountError("This e-mail address cannot be used. Choose another one.")
    user.email = email
    session.flush()
    record(session, "user.email_change", actor=actor or user, target=user)


def set_display_name(session: Session, user: User, name: str, *, actor: User | None = None) -> None:
    name = name.strip()
    if not name:
        raise AccountError("Enter a name.")
    if name != user.display_name:
        user.display_name = name
        session.flush()
        record(session, "user.name_change", actor=actor or user, target=user)


def set_role(session: Session, user: User, role: Role | str, *, actor: User | None = None) -> None:
    """Change ``user``'s role. A privilege change ends every session of the account."""
    role = Role(role)
    if role.value == user.role:
        return
    old = user.role
    user.role = role.value
    user.session_token = new_session_token()
    session.flush()
    _end_sessions(session, user, "role_change")
    record(session, "user.role_change", actor=actor, target=user, detail={"from": old, "to": role.value})


def deactivate_user(session: Session, user: User, *, actor: User | None = None) -> None:
    """Refuse every further login and end every session of ``user`` at once."""
    user.active = False
    user.session_token = new_session_token()
    session.flush()
    _end_sessions(session, user, "deactivated")
    record(session, "user.deactivate", actor=actor, target=user)


def reactivate_user(session: Session, user: User, *, actor: User | None = None) -> None:
    user.active = True
    session.flush()
    record(session, "user.reactivate", actor=actor, target=user)
