"""Executing one report run: the steps, their progress, the heartbeat and the lease.

``execute_run(run_id)`` is what the Huey task calls (inside an app context). It claims the run
(queued -> running), starts a heartbeat thread, and runs the steps. Every progress write is
conditional on still holding the run: if the run was meanwhile declared dead (stale heartbeat)
or cancelled, the worker stops quietly instead of overwriting the verdict.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from icbt.analysis.dataset import TrialDataset
from icbt.analysis.results import AnalysisParameters, analyse
from icbt.audit.services import record
from icbt.db import utcnow
from icbt.extensions import db
from icbt.reports.models import ReportRun, RunStatus
from icbt.reports.services import setting
from icbt.trials.models import Trial

log = logging.getLogger(__name__)

#: (name, label, progress fraction when the step starts)
STEPS: tuple[tuple[str, str, float], ...] = (
    ("load", "Reading the measurements", 0.02),
    ("analyse", "Computing the statistics", 0.35),
    ("figures", "Drawing the figures", 0.45),
    ("exports", "Writing the pseudonymised exports", 0.60),
    ("report", "Writing the report", 0.95),
)
STEP_LABELS = {name: label for name, label, _ in STEPS} | {"queued": "Waiting for a worker", "done": "Finished"}
_NEXT_START = {STEPS[i][0]: (STEPS[i + 1][2] if i + 1 < len(STEPS) else 1.0) for i in range(len(STEPS))}

# Test hook: a worker started with ICBT_REPORT_HOLD_STEP=<step> blocks before that step until the
# file named by ICBT_REPORT_HOLD_RELEASE exists (forever if unset). Lets a test kill a worker
# at a known point, deterministically.
HOLD_ENV = "ICBT_REPORT_HOLD_STEP"
RELEASE_ENV = "ICBT_REPORT_HOLD_RELEASE"


class LeaseLost(Exception):
    """The run is no longer ours (declared dead, or cancelled)."""


def worker_token() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_dir(run_id: int) -> Path:
    return Path(current_app.config["REPORTS_DIR"]) / str(int(run_id))


class Heartbeat:
    """A daemon thread that stamps ``heartbeat_at`` every ``interval`` seconds while we hold the run."""

    def __init__(self, engine: Engine, run_id: int, token: str, interval: float) -> None:
        self.engine, self.run_id, self.token, self.interval = engine, run_id, token, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"report-heartbeat-{run_id}", daemon=True)

    def beat(self) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ReportRun)
                .where(ReportRun.id == self.run_id, ReportRun.worker == self.token,
                       ReportRun.status == RunStatus.RUNNING.value)
                .values(heartbeat_at=utcnow())
            )
        return bool(result.rowcount)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.beat():
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; staleness is judged by readers
                log.warning("heartbeat of report run %s failed", self.run_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class RunContext:
    run_id: int
    token: str
    trial: Trial
    params: AnalysisParameters
    out: Path
    requested_by: str = ""
    requested_at: str = ""
    dataset: TrialDataset | None = None
    results: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    _last_write: float = 0.0

    def progress(self, step: str, fraction: float, *, force: bool = True) -> None:
        """Record progress (0..1 overall); conditional on holding the run."""
        now = time.monotonic()
        if not force and now - self._last_write < 1.0:
            return
        self._last_write = now
        result = db.session.execute(
            update(ReportRun)
            .where(ReportRun.id == self.run_id, ReportRun.worker == self.token,
                   ReportRun.status == RunStatus.RUNNING.value)
            .values(progress=max(0.0, min(1.0, fraction)), current_step=step, heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"run {self.run_id} is no longer held by this worker")

    def step_progress(self, step: str) -> Callable[[float], None]:
        """A callback mapping a step's own 0..1 onto the overall bar (throttled to 1 write/s)."""
        start = next(s for n, _, s in STEPS if n == step)
        end = _NEXT_START[step]

        def report(inner: float) -> None:
            self.progress(step, start + (end - start) * max(0.0, min(1.0, inner)), force=False)

        return report


def _hold(step: str) -> None:
    if os.environ.get(HOLD_ENV) != step:
        return
    release = os.environ.get(RELEASE_ENV)
    log.warning("report step %s held by %s", step, HOLD_ENV)
    while not (release and os.path.exists(release)):
        time.sleep(0.05)


def claim(session: Session, run_id: int, token: str, now: dt.datetime) -> bool:
    result = session.execute(
        update(ReportRun).where(ReportRun.id == run_id, ReportRun.status == RunStatus.QUEUED.value)
        .values(status=RunStatus.RUNNING.value, worker=token, started_at=now, heartbeat_at=now,
                current_step="load", progress=0.0,
                software_version=str(current_app.config.get("SOFTWARE_VERSION", "")))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the steps

def _step_load(ctx: RunContext) -> None:
    from icbt.reports.loader import load_dataset

    with db.read_only_session() as reader:
        ctx.dataset = load_dataset(reader, ctx.trial, progress=ctx.step_progress("load"))


def _step_analyse(ctx: RunContext) -> None:
    assert ctx.dataset is not None
    ctx.results = analyse(ctx.dataset, ctx.params,
                          software_version=str(current_app.config.get("SOFTWARE_VERSION", "")))
    ctx.results["run_id"] = ctx.run_id
    ctx.results["requested_by"] = ctx.requested_by
    ctx.results["requested_at"] = ctx.requested_at


def _step_figures(ctx: RunContext) -> None:
    from icbt.reports.rendering import write_figures

    assert ctx.dataset is not None and ctx.results is not None
    ctx.files.update(write_figures(ctx.dataset, ctx.results, ctx.out / "figures"))


def _step_exports(ctx: RunContext) -> None:
    from icbt.reports.exports import write_export_zip

    assert ctx.results is not None
    path = ctx.out / "export.zip"
    with db.read_only_session() as reader:
        write_export_zip(reader, ctx.trial, ctx.results, path, include_free_text=ctx.params.include_free_text,
                         progress=ctx.step_progress("exports"))
    ctx.files["export"] = path.name


def _step_report(ctx: RunContext) -> None:
    from icbt.reports.rendering import write_report_html

    assert ctx.results is not None
    _write_json(ctx.out / "parameters.json", ctx.params.as_dict())
    _write_json(ctx.out / "results.json", ctx.results)
    write_report_html(ctx.results, ctx.out / "report.html")


STEP_FUNCTIONS: dict[str, Callable[[RunContext], None]] = {
    "load": _step_load, "analyse": _step_analyse, "figures": _step_figures,
    "exports": _step_exports, "report": _step_report,
}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- the whole run

def execute_run(run_id: int) -> str:
    """Run ``run_id`` to the end. Returns its final status (or "skipped" if not ours to run)."""
    session = db.session
    token = worker_token()
    if not claim(session, run_id, token, utcnow()):
        log.info("report run %s was not queued any more; skipped", run_id)
        return "skipped"
    run = session.get(ReportRun, run_id)
    assert run is not None
    trial = session.get(Trial, run.trial_id)
    assert trial is not None
    out = run_dir(run_id)
    step_name = "load"
    try:
        params = AnalysisParameters.from_dict(run.parameters)
        if out.exists():  # left by an earlier database with the same ids
            shutil.rmtree(out)
        (out / "figures").mkdir(parents=True)
        session.execute(update(ReportRun).where(ReportRun.id == run_id).values(output_dir=str(out)))
        session.commit()
        ctx = RunContext(run_id, token, trial, params, out,
                         # a staff reference, not a name: results.json travels in the pseudonymised export
                         requested_by=f"{run.requested_by.role} #{run.requested_by.id}" if run.requested_by else "command line",
                         requested_at=run.created_at.isoformat(timespec="seconds"))
        with Heartbeat(db.engine, run_id, token, setting("REPORT_HEARTBEAT_INTERVAL")):
            for name, _label, start in STEPS:
                step_name = name
                ctx.progress(name, start)
                _hold(name)
                STEP_FUNCTIONS[name](ctx)
        assert ctx.results is not None
        finished = session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.worker == token, ReportRun.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.DONE.value, progress=1.0, current_step="done", finished_at=utcnow(),
                    heartbeat_at=utcnow(), data_fingerprint=ctx.results["data_fingerprint"])
            .execution_options(synchronize_session=False)
        )
        if not finished.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"run {run_id} is no longer held by this worker")
        record(session, "report.done", actor=None, target=run, detail={"trial_id": trial.id})
        session.commit()
        return RunStatus.DONE.value
    except LeaseLost:
        session.rollback()
        log.warning("report run %s was taken away from this worker (declared dead or cancelled)", run_id)
        return "abandoned"
    except Exception as error:  # noqa: BLE001 - every failure ends as a readable reason on the run
        session.rollback()
        where = STEP_LABELS.get(step_name, step_name)
        message = f"{where} failed: {error.__class__.__name__}: {error}"[:2000]
        session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.worker == token, ReportRun.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.FAILED.value, error_message=message, traceback=traceback.format_exc(),
                    finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        log.exception("report run %s failed", run_id)
        return RunStatus.FAILED.value
