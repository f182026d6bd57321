"""Report runs: start, cancel, list, and the detection of runs whose worker died.

A run is queued by ``start_run`` and handed to the task queue only once the transaction that
created it has committed (``after_commit``), so a worker never looks for a row it cannot see.
A worker ``claim``s the run (queued -> running, conditional UPDATE) and then beats a
heartbeat; every later write of the worker is conditional on still holding the run (the
lease). ``expire_stale_runs`` turns a running run without a recent heartbeat, or a run that no
worker picked up within the queue timeout, into ``failed`` with a readable reason; it is
called whenever runs are read or a run is started, so nothing stays "running" forever and
the trial can be analysed again.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable

from flask import current_app, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icbt.analysis.results import AnalysisParameters
from icbt.audit.services import allow_detail_keys, record
from icbt.db import utcnow
from icbt.reports.models import ACTIVE_STATUSES, ReportRun, RunStatus
from icbt.trials.models import Trial

# Audit detail of report runs: run settings and file sizes, never results.
allow_detail_keys("parameters", "include_free_text", "bytes")

log = logging.getLogger(__name__)

DEFAULTS = {
    "REPORT_HEARTBEAT_INTERVAL": 10.0,  # seconds between heartbeats of a running job
    "REPORT_STALE_AFTER": 60.0,  # a running job without a heartbeat this long has died
    "REPORT_QUEUE_TIMEOUT": 3600.0,  # a queued job no worker picked up this long is failed
}


def setting(name: str) -> float:
    if has_app_context():
        return float(current_app.config.get(name, DEFAULTS[name]))
    return DEFAULTS[name]


class RunAlreadyActive(Exception):
    """The trial already has a queued or running analysis; ``run`` is that run."""

    def __init__(self, run: ReportRun) -> None:
        super().__init__(f"analysis run {run.id} is already {run.status}")
        self.run = run


# ---------------------------------------------------------------- staleness (pure)

def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def stale_reason(run: ReportRun, now: dt.datetime, *, stale_after: float, queue_timeout: float) -> str | None:
    """Why ``run`` must be considered failed at ``now``, or None if it is fine."""
    if run.status == RunStatus.RUNNING.value:
        last = _aware(run.heartbeat_at or run.started_at or run.created_at)
        assert last is not None
        silent = (now - last).total_seconds()
        if silent > stale_after:
            return (f"The worker running this analysis stopped responding (no sign of life for "
                    f"{int(silent)} seconds, during step '{run.current_step or 'start'}'). "
                    "It was probably stopped or crashed. Start the analysis again.")
    elif run.status == RunStatus.QUEUED.value:
        created = _aware(run.created_at)
        assert created is not None
        waited = (now - created).total_seconds()
        if waited > queue_timeout:
            return (f"No worker picked up this analysis within {int(queue_timeout // 60)} minutes. "
                    "Check that the background worker is running (flask --app wsgi worker), then start again.")
    return None


def expire_stale_runs(session: Session, *, trial_id: int | None = None, now: dt.datetime | None = None,
                      stale_after: float | None = None, queue_timeout: float | None = None) -> list[ReportRun]:
    """Mark stale queued/running runs failed (conditionally: a run that moved on meanwhile is
    left alone). Returns the runs marked."""
    now = now or utcnow()
    stale_after = setting("REPORT_STALE_AFTER") if stale_after is None else stale_after
    queue_timeout = setting("REPORT_QUEUE_TIMEOUT") if queue_timeout is None else queue_timeout
    # populate_existing: a long-lived session must see what workers wrote meanwhile
    stmt = select(ReportRun).where(ReportRun.status.in_(ACTIVE_STATUSES)).execution_options(populate_existing=True)
    if trial_id is not None:
        stmt = stmt.where(ReportRun.trial_id == trial_id)
    expired = []
    for run in session.scalars(stmt).all():
        reason = stale_reason(run, now, stale_after=stale_after, queue_timeout=queue_timeout)
        if reason is None:
            continue
        guard = [ReportRun.id == run.id, ReportRun.status == run.status]
        if run.status == RunStatus.RUNNING.value:
            guard.append(ReportRun.heartbeat_at == run.heartbeat_at if run.heartbeat_at is not None
                         else ReportRun.heartbeat_at.is_(None))
        result = session.execute(
            update(ReportRun).where(*guard)
            .values(status=RunStatus.FAILED.value, error_message=reason, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        session.refresh(run)
        if result.rowcount:  # type: ignore[attr-defined]
            record(session, "report.run_expired", actor=None, target=run, detail={"trial_id": run.trial_id})
            expired.append(run)
    session.flush()
    return expired


# ---------------------------------------------------------------- starting and cancelling

def active_run(session: Session, trial_id: int) -> ReportRun | None:
    return session.scalar(select(ReportRun).where(ReportRun.trial_id == trial_id,
                                                  ReportRun.status.in_(ACTIVE_STATUSES))
                          .execution_options(populate_existing=True))


def start_run(session: Session, trial: Trial, *, requested_by: Any = None,
              parameters: dict[str, Any] | AnalysisParameters | None = None,
              now: dt.datetime | None = None) -> ReportRun:
    """Queue an analysis of ``trial``. Raises ``RunAlreadyActive`` if one is queued or running
    (after expiring stale ones), ``ParameterError`` for bad parameters. The task is enqueued
    when the caller's transaction commits."""
    params = parameters if isinstance(parameters, AnalysisParameters) else AnalysisParameters.from_dict(parameters)
    expire_stale_runs(session, trial_id=trial.id, now=now)
    existing = active_run(session, trial.id)
    if existing is not None:
        raise RunAlreadyActive(existing)
    run = ReportRun(trial_id=trial.id, requested_by_id=getattr(requested_by, "id", None),
                    status=RunStatus.QUEUED.value, progress=0.0, current_step="queued",
                    parameters=params.as_dict(), created_at=now or utcnow())
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:  # another request queued one at the same moment
        existing = active_run(session, trial.id)
        if existing is None:
            raise
        raise RunAlreadyActive(existing) from None
    record(session, "report.start", actor=requested_by, target=run,
           detail={"trial_id": trial.id, "parameters": params.as_dict()})
    enqueue_on_commit(session, run.id)
    return run


def cancel_run(session: Session, run: ReportRun, *, actor: Any = None, now: dt.datetime | None = None) -> bool:
    """Stop waiting for a queued or running run: it becomes failed (its worker, if any, stops
    at its next progress write). Returns False if the run had already finished."""
    now = now or utcnow()
    result = session.execute(
        update(ReportRun).where(ReportRun.id == run.id, ReportRun.status.in_(ACTIVE_STATUSES))
        .values(status=RunStatus.FAILED.value, error_message="Cancelled by an administrator.", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(run)
    if result.rowcount:  # type: ignore[attr-defined]
        record(session, "report.cancel", actor=actor, target=run, detail={"trial_id": run.trial_id})
        return True
    return False


def runs_of(session: Session, trial_id: int | None = None, *, limit: int = 100) -> list[ReportRun]:
    stmt = select(ReportRun).order_by(ReportRun.created_at.desc(), ReportRun.id.desc()).limit(limit)
    if trial_id is not None:
        stmt = stmt.where(ReportRun.trial_id == trial_id)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- enqueue after commit

_PENDING_KEY = "icbt.reports.enqueue"


def enqueue_on_commit(session: Session, run_id: int) -> None:
    session.info.setdefault(_PENDING_KEY, []).append(run_id)


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    pending: list[int] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    bind = session.get_bind()
    for run_id in pending:
        enqueue(run_id, bind=bind)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def enqueue(run_id: int, *, bind: Any = None) -> None:
    """Hand the run to the task queue; if the queue cannot be reached the run fails at once."""
    from icbt.reports.tasks import run_report

    try:
        run_report(run_id)
    except Exception as error:  # noqa: BLE001 - any queue failure is reported on the run
        log.exception("could not enqueue report run %s", run_id)
        if bind is None:
            raise
        with Session(bind=bind) as side:
            side.execute(
                update(ReportRun).where(ReportRun.id == run_id, ReportRun.status == RunStatus.QUEUED.value)
                .values(status=RunStatus.FAILED.value, finished_at=utcnow(),
                        error_message=f"The task queue could not be reached ({error.__class__.__name__}: {error}). "
                                      "Check the queue, then start again.")
            )
            side.commit()


def pending_ids(session: Session) -> Iterable[int]:
    return tuple(session.info.get(_PENDING_KEY, ()))
