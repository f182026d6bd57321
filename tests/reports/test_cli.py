"""``flask --app wsgi report run``."""
from __future__ import annotations

from sqlalchemy import select

from icbt.extensions import db
from icbt.reports import job
from icbt.reports.models import ReportRun
from tests.reports.helpers import build_trial


def test_report_run_inline_and_wait(app, factory, runner) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=3)
    result = runner.invoke(args=["report", "run", "--inline"])
    assert result.exit_code == 0, result.output
    run = db.session.scalars(select(ReportRun)).one()
    assert run.status == "done" and run.requested_by_id is None
    assert f"Report: {job.run_dir(run.id)}" in result.output
    # --wait: the test queue is immediate, so the job has run when the command starts waiting
    result = runner.invoke(args=["report", "run", "--wait", "--trial", built.trial.slug])
    assert result.exit_code == 0, result.output
    assert "done: Finished 100%" in result.output


def test_report_run_refuses_a_second_active_run_and_unknown_trials(app, factory, runner) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    db.session.add(ReportRun(trial_id=built.trial.id, status="queued", parameters={}))
    db.session.commit()
    result = runner.invoke(args=["report", "run"])
    assert result.exit_code != 0 and "already queued" in result.output
    result = runner.invoke(args=["report", "run", "--trial", "nope"])
    assert result.exit_code != 0 and "No trial with slug 'nope'" in result.output
