"""The report's background task (thin: an app context and ``execute_run``)."""
from __future__ import annotations

from icbt.extensions import queue
from icbt.tasks import in_app_context


@queue.huey.task(name="icbt.reports.run_report")
@in_app_context
def run_report(run_id: int) -> None:
    """Run the analysis of ``run_id``. Returns nothing, so the queue stores no result."""
    from icbt.reports.job import execute_run

    execute_run(run_id)
