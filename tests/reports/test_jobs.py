"""Report runs through their states. The queue is in immediate mode here (TestConfig): the job
runs synchronously when the transaction that queued it commits. The real consumer, a killed
worker and Redis are in test_worker.py."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from icbt.analysis.results import numbers_only
from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.reports import job
from icbt.reports.models import ReportRun
from icbt.reports.services import (RunAlreadyActive, cancel_run, expire_stale_runs, stale_reason, start_run)
from tests.reports.helpers import build_trial

UTC = dt.timezone.utc


def _run(trial, admin=None, **params):  # type: ignore[no-untyped-def]
    run = start_run(db.session, trial, requested_by=admin, parameters=params or None)
    run_id = run.id
    db.session.commit()  # immediate mode: the job runs here
    db.session.expire_all()
    return db.session.get(ReportRun, run_id)


def test_a_run_goes_from_queued_to_done_and_keeps_its_files(app, factory, admin) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    run = _run(built.trial, admin)
    assert run.status == "done", run.error_message
    assert run.progress == 1.0 and run.current_step == "done"
    assert run.started_at is not None and run.finished_at is not None and run.finished_at >= run.started_at
    folder = job.run_dir(run.id)
    assert run.output_dir == str(folder)
    for name in ("results.json", "parameters.json", "report.html", "export.zip", "figures/alliance_week3.svg",
                 "figures/expected_alliance.svg", "figures/core_om_pre_post.svg"):
        assert (folder / name).is_file(), name
    results = json.loads((folder / "results.json").read_text())
    assert results["run_id"] == run.id
    # who ran it, as a staff reference (the name would travel in the pseudonymised export)
    assert results["requested_by"] == f"admin #{admin.id}"
    assert admin.display_name not in (folder / "results.json").read_text()
    assert results["requested_at"] == run.created_at.isoformat(timespec="seconds")
    assert results["data_fingerprint"] == run.data_fingerprint
    assert results["software_version"] == app.config["SOFTWARE_VERSION"] == run.software_version
    assert results["alliance_week3_vs_residual_gain"]["n"] == 10
    assert json.loads((folder / "parameters.json").read_text()) == results["parameters"] == run.parameters
    html = (folder / "report.html").read_text()
    assert "semipartial" in html and 'src="figures/alliance_week3.svg"' in html
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"report.start", "report.done"} <= actions


def test_two_runs_on_the_same_data_give_the_same_numbers(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    first, second = _run(built.trial), _run(built.trial)
    a = json.loads((job.run_dir(first.id) / "results.json").read_text())
    b = json.loads((job.run_dir(second.id) / "results.json").read_text())
    for key in ("run_id", "requested_at"):
        a.pop(key), b.pop(key)
    assert numbers_only(a) == numbers_only(b)
    svg_a = (job.run_dir(first.id) / "figures" / "alliance_week3.svg").read_text()
    assert svg_a == (job.run_dir(second.id) / "figures" / "alliance_week3.svg").read_text()


def test_a_failing_step_fails_the_run_with_a_reason_and_a_traceback(app, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=4)

    def broken(ctx):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setitem(job.STEP_FUNCTIONS, "figures", broken)
    run = _run(built.trial)
    assert run.status == "failed"
    assert run.error_message == "Drawing the figures failed: OSError: disk full"
    assert "Traceback" in run.traceback and "broken" in run.traceback
    assert run.current_step == "figures" and 0 < run.progress < 1
    # it can be started again
    monkeypatch.undo()
    again = _run(built.trial)
    assert again.status == "done" and again.id != run.id


def test_a_run_taken_away_mid_way_stops_without_overwriting(app, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=4)
    original = job.STEP_FUNCTIONS["analyse"]

    def cancelled_meanwhile(ctx):  # type: ignore[no-untyped-def]
        # another request cancels the run while the worker is in this step
        with app.app_context():
            other = db.session.get(ReportRun, ctx.run_id)
            assert cancel_run(db.session, other)
            db.session.commit()
        original(ctx)

    monkeypatch.setitem(job.STEP_FUNCTIONS, "analyse", cancelled_meanwhile)
    run = _run(built.trial)
    assert run.status == "failed" and run.error_message == "Cancelled by an administrator."
    assert run.current_step == "analyse"  # the worker wrote nothing after losing the run
    assert not (job.run_dir(run.id) / "results.json").exists()


def _running(trial, heartbeat: dt.datetime) -> ReportRun:  # type: ignore[no-untyped-def]
    run = ReportRun(trial_id=trial.id, status="running", progress=0.4, current_step="analyse", worker="w:1:x",
                    created_at=heartbeat - dt.timedelta(minutes=1), started_at=heartbeat, heartbeat_at=heartbeat,
                    parameters={})
    db.session.add(run)
    db.session.commit()
    return run


def test_stale_reason_by_the_clock() -> None:
    beat = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    run = ReportRun(status="running", heartbeat_at=beat, created_at=beat, current_step="exports")
    assert stale_reason(run, beat + dt.timedelta(seconds=60), stale_after=60, queue_timeout=600) is None
    reason = stale_reason(run, beat + dt.timedelta(seconds=61), stale_after=60, queue_timeout=600)
    assert reason and "stopped responding" in reason and "exports" in reason
    queued = ReportRun(status="queued", created_at=beat)
    assert stale_reason(queued, beat + dt.timedelta(seconds=600), stale_after=60, queue_timeout=600) is None
    assert "No worker picked up" in (stale_reason(queued, beat + dt.timedelta(seconds=601), stale_after=60,
                                                  queue_timeout=600) or "")
    done = ReportRun(status="done", heartbeat_at=beat, created_at=beat)
    assert stale_reason(done, beat + dt.timedelta(days=9), stale_after=60, queue_timeout=600) is None


def test_a_dead_run_is_failed_on_start_and_a_new_one_runs(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=4)
    beat = dt.datetime.now(UTC) - dt.timedelta(minutes=2)
    dead = _running(built.trial, beat)
    fresh = _run(built.trial)
    db.session.refresh(dead)
    assert dead.status == "failed" and "stopped responding" in dead.error_message
    assert fresh.status == "done"


def test_a_live_run_blocks_a_second_one(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=4)
    live = _running(built.trial, dt.datetime.now(UTC))
    with pytest.raises(RunAlreadyActive) as caught:
        start_run(db.session, built.trial)
    assert caught.value.run.id == live.id
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ReportRun)) == 1
    # expiry is judged with an injected clock: a minute later the same run is dead
    expired = expire_stale_runs(db.session, now=live.heartbeat_at + dt.timedelta(seconds=61), stale_after=60)
    assert [r.id for r in expired] == [live.id]
    db.session.commit()
    assert db.session.get(ReportRun, live.id).status == "failed"


def test_an_unreachable_queue_fails_the_run_at_once(app, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    from icbt.reports import tasks

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("connection refused")

    monkeypatch.setattr(tasks, "run_report", refuse)
    run = _run(built.trial)
    assert run.status == "failed" and "task queue could not be reached" in run.error_message


def test_a_run_already_claimed_is_not_run_twice(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    run = _run(built.trial)
    assert run.status == "done"
    assert job.execute_run(run.id) == "skipped"  # a duplicate delivery of the task


def test_bad_parameters_are_refused_before_anything_is_queued(app, factory) -> None:  # type: ignore[no-untyped-def]
    from icbt.analysis.results import ParameterError

    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    with pytest.raises(ParameterError):
        start_run(db.session, built.trial, parameters={"cutoff": 99})
    assert db.session.scalar(select(func.count()).select_from(ReportRun)) == 0


def test_the_heartbeat_stamps_only_a_run_it_holds(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    old = dt.datetime(2026, 1, 1, tzinfo=UTC)
    run = _running(built.trial, old)
    mine = job.Heartbeat(db.engine, run.id, "w:1:x", interval=60)
    assert mine.beat() is True
    db.session.expire_all()
    assert db.session.get(ReportRun, run.id).heartbeat_at > old
    db.session.commit()
    assert job.Heartbeat(db.engine, run.id, "someone-else", interval=60).beat() is False
    db.session.get(ReportRun, run.id).status = "failed"
    db.session.commit()
    assert mine.beat() is False
