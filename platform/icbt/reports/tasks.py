"""The report's background task (thin: an app context and ``execute_run``)."""
from __future__ import annotations

from icbt.extensions import queue


@queue.huey.task(name="icbt.reports.run_report")
def run_report(run_id: int) -> str:
    from icbt.reports.job import execute_run

    with queue.app.app_context():
        return execute_run(run_id)
