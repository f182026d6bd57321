"""Run work after the surrounding transaction committed (and never if it rolled back).

Notifications are queued this way, so the message row is committed before a worker (or
Huey's immediate mode in tests) looks for it, and a rolled-back request notifies no one.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

KEY = "icbt.after_commit"
log = logging.getLogger(__name__)


def call_after_commit(session: Any, fn: Callable[[], Any]) -> None:
    """Call ``fn`` once ``session`` (a Session or scoped_session) has committed."""
    session.info.setdefault(KEY, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    callbacks = session.info.pop(KEY, [])
    for fn in callbacks:
        try:
            fn()
        except Exception:  # the commit happened; a failing follow-up must not undo the request
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction: Any) -> None:
    # A rollback of the outer transaction: the work it queued must not run. (A savepoint
    # rolled back inside it keeps the rest of the transaction, and its queued work.)
    if not previous_transaction.nested:
        session.info.pop(KEY, None)
