"""Background tasks, registered on the Huey queue. Each domain keeps its own tasks module;
this module imports them all so that the worker knows every task.

A task is thin: it opens an app context (``in_app_context``) and calls a service.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from icbt.extensions import db, queue

huey = queue.huey


def in_app_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` inside the bound app's context, committing on success."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with queue.app.app_context():
            try:
                result = fn(*args, **kwargs)
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise

    return wrapper


@huey.task()
@in_app_context
def ping() -> str:
    """Round trip through the queue and the database: the worker's health check."""
    from sqlalchemy import text

    return str(db.session.execute(text("SELECT 1")).scalar_one())


# Domain task modules (imported last: they use ``in_app_context`` from here).
from icbt.measures import tasks as _measures_tasks  # noqa: E402,F401
from icbt.notifications import tasks as _notification_tasks  # noqa: E402,F401
from icbt.treatment import tasks as _treatment_tasks  # noqa: E402,F401
