"""Periodic measurement work: open and close windows, send reminders (every 15 minutes)."""
from __future__ import annotations

from huey import crontab

from icbt.extensions import db, queue
from icbt.tasks import in_app_context

huey = queue.huey


@in_app_context
def refresh_measurements() -> dict[str, int]:
    """Materialise schedules, mark windows open/missed (calling the hooks), send reminders."""
    from icbt.measures.services import refresh_all

    return refresh_all(db.session)


@huey.periodic_task(crontab(minute="*/15"), retries=2, retry_delay=60)
def refresh_measurements_periodically() -> dict[str, int]:
    return refresh_measurements()
