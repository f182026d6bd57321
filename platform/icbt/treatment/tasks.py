"""Periodic treatment work: move the stages that change with time (``stages.advance_stages``)."""
from __future__ import annotations

from huey import crontab

from icbt.extensions import db, queue
from icbt.tasks import in_app_context

huey = queue.huey


@in_app_context
def advance_stages() -> dict[str, int]:
    from icbt.treatment.stages import advance_stages as advance

    return advance(db.session)


@huey.periodic_task(crontab(minute="*/15"), retries=2, retry_delay=60)
def advance_stages_periodically() -> dict[str, int]:
    return advance_stages()
