"""Writing audit lines. Every state change in a service calls ``record`` before it returns."""
from __future__ import annotations

import re
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Session

from icbt.audit.models import AuditEvent

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def clean(value: Any) -> Any:
    """Strip CR, LF and other control characters from strings (no forged log lines)."""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)[:500]
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def _participant_id_of(target: Any) -> int | None:
    if target is None:
        return None
    if type(target).__name__ == "Participant":
        return target.id
    return getattr(target, "participant_id", None)


def record(
    session: Session,
    action: str,
    *,
    actor: Any = None,
    target: Any = None,
    participant: Any = None,
    participant_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit line to the session (committed with the rest of the request)."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user._get_current_object()
    if participant_id is None:
        participant_id = participant.id if participant is not None else _participant_id_of(target)
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_role=getattr(actor, "role", None),
        action=clean(action),
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(getattr(target, "id", "")) if target is not None else None,
        participant_id=participant_id,
        ip=clean(request.remote_addr) if has_request_context() else None,
        detail=clean(detail or {}),
    )
    session.add(event)
    return event
