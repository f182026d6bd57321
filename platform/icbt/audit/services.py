"""Writing audit lines. Every state change in a service calls ``record`` before it returns.

An audit line says who did what to which record, when and from where; it never carries
health data itself. ``detail`` keys are therefore checked against an allow-list: keys
that name health content (answers, scores, message text...) are refused outright, and a
key nobody has declared is refused when ``AUDIT_STRICT`` is on (tests, development) and
dropped with a logged warning in production. A domain that needs a new key declares it
once, in its services module, with ``allow_detail_keys("key", ...)``.

The trail is append-only from the application: the ORM refuses UPDATE and DELETE of
audit rows (``AuditLogIsAppendOnly``), and on PostgreSQL a trigger refuses them too.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from icbt.audit.models import AuditEvent
from icbt.db import utcnow
from icbt.extensions import in_page_view

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class AuditDetailError(ValueError):
    """A ``detail`` key that may carry health data, or that nobody declared."""


class AuditLogIsAppendOnly(RuntimeError):
    """An attempt to change or delete an audit line."""


# Keys that say *which* record or *what kind* of event, never what someone wrote or scored.
ALLOWED_DETAIL_KEYS: set[str] = {
    # access and accounts
    "reason", "view", "needed", "role", "from", "to", "email_hash", "second_factor", "method",
    "replaced", "count", "filters", "page", "session", "via",
    # records and their identifiers
    "participant_id", "user_id", "therapist_id", "trial_id", "module", "module_id", "page_id",
    "plan_id", "week", "worksheet_id", "homework_id", "instrument", "instrument_id",
    "administration_id", "timepoint", "version", "thread_id", "message_id", "alert_id",
    "run_id", "job_id", "export", "format", "files", "rows", "status", "from_status",
    "to_status", "arm", "kind", "fields", "changed", "action", "item_count", "seed",
    "block_size", "file", "sha256", "tables",
}
# Keys that would mean health data or secrets inside the trail: never allowed.
FORBIDDEN_DETAIL_KEYS = frozenset({
    "answer", "answers", "response", "responses", "score", "scores", "value", "values", "text",
    "body", "message", "content", "note", "notes", "comment", "comments", "diagnosis",
    "problems", "password", "secret", "code", "token", "email", "name", "display_name",
    "phone", "address", "homework", "feedback", "risk", "item", "items", "sum", "total",
})


def allow_detail_keys(*keys: str) -> None:
    """Declare ``detail`` keys a domain writes (identifiers and kinds, not content)."""
    for key in keys:
        if key in FORBIDDEN_DETAIL_KEYS:
            raise AuditDetailError(f"audit detail key {key!r} would carry health data or secrets")
        ALLOWED_DETAIL_KEYS.add(key)


def clean(value: Any) -> Any:
    """Strip CR, LF and other control characters from strings (no forged log lines)."""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)[:500]
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def _strict() -> bool:
    if not has_app_context():
        return True
    return bool(current_app.config.get("AUDIT_STRICT", True))


def checked_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """``detail`` with only declared keys (see the module docstring)."""
    out: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        key = str(key)
        if key in FORBIDDEN_DETAIL_KEYS:
            if _strict():
                raise AuditDetailError(f"audit detail key {key!r} would carry health data or secrets")
            log.error("audit detail key %r dropped: it may carry health data", key)
            continue
        if key not in ALLOWED_DETAIL_KEYS:
            if _strict():
                raise AuditDetailError(
                    f"audit detail key {key!r} is not declared: call allow_detail_keys({key!r}) in your "
                    "services module if it names a record or a kind of event (never content)"
                )
            log.warning("undeclared audit detail key %r dropped", key)
            continue
        out[key] = value
    return clean(out)


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
    event_ = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_role=getattr(actor, "role", None),
        action=clean(action)[:64],
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(getattr(target, "id", ""))[:64] if target is not None else None,
        participant_id=participant_id,
        ip=clean(request.remote_addr)[:64] if has_request_context() and request.remote_addr else None,
        detail=checked_detail(detail),
    )
    if in_page_view():
        # A page view (GET): the line is inserted with the request's commit, in one statement
        # with any others, instead of as an ORM object flushed in the middle of the page's
        # reads (on SQLite that flush would take the write lock for the rest of the page).
        session.info.setdefault(_PENDING, []).append(event_)
        return event_
    session.add(event_)
    return event_


_PENDING = "icbt.audit.pending"


@event.listens_for(Session, "before_commit")
def _insert_pending_lines(session: Session) -> None:
    """The page views' audit lines, inserted in the transaction that commits (a savepoint's
    release counts: the lines then join the enclosing transaction)."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        columns = ("actor_id", "actor_role", "action", "target_type", "target_id", "participant_id", "ip", "detail")
        now = utcnow()
        session.execute(AuditEvent.__table__.insert(), [
            {"at": now, **{name: getattr(line, name) for name in columns}} for line in pending
        ])


# ---------------------------------------------------------------- append-only

@event.listens_for(Session, "before_flush")
def _refuse_changed_audit_lines(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditLogIsAppendOnly("audit lines cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise AuditLogIsAppendOnly("audit lines cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditLogIsAppendOnly("audit lines cannot be changed or deleted")
