"""Who may reach what. Every view states its role; patient data is scoped by ownership."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort
from flask_login import current_user, login_required

from icbt.audit.services import record
from icbt.extensions import db
from icbt.trials.models import Participant
from icbt.users.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])


def deny(reason: str, **detail: Any) -> None:
    """Log an authorization failure and answer 403."""
    record(db.session, "access.denied", detail={"reason": reason, **detail})
    db.session.commit()
    abort(403)


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Require a logged-in user holding one of ``roles`` (403 otherwise, login page if anonymous)."""
    allowed = {Role(r).value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                deny("role", view=view.__name__, needed=sorted(allowed))
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def can_see_participant(user: User, participant: Participant) -> bool:
    if user.role == Role.ADMIN.value:
        return True
    if user.role == Role.THERAPIST.value:
        return participant.therapist_id == user.id
    return participant.user_id == user.id


def get_participant_or_404(participant_id: int, *, user: User | None = None) -> Participant:
    """Load a participant or 404, then check the user may see it (403 and an audit line)."""
    user = user or current_user._get_current_object()
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        abort(404)
    if not can_see_participant(user, participant):
        deny("not own participant", participant_id=participant_id)
    return participant
