"""The admin's analysis pages: start a run, follow it, read the report, download the exports.

Every view is admin-only. A page never waits for the analysis: starting queues a job and
redirects to the run's page, which shows progress (reload link; a small script polls).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from icbt.access import role_required
from icbt.analysis.results import ParameterError
from icbt.audit.services import record
from icbt.extensions import db
from icbt.reports.forms import RunActionForm, StartRunForm
from icbt.reports.job import STEP_LABELS, run_dir
from icbt.reports.models import ReportRun, RunStatus
from icbt.reports.rendering import report_context
from icbt.reports.services import RunAlreadyActive, cancel_run, expire_stale_runs, runs_of, start_run
from icbt.trials.models import Trial

bp = Blueprint("reports", __name__, url_prefix="/admin/reports")

FIGURE_NAME = re.compile(r"^[a-z0-9_]+\.svg$")


def _run_or_404(run_id: int) -> ReportRun:
    run = db.session.get(ReportRun, run_id)
    if run is None:
        abort(404)
    if run.is_active:
        expire_stale_runs(db.session, trial_id=run.trial_id)
        db.session.refresh(run)
    return run


def load_results(run: ReportRun) -> dict[str, Any] | None:
    if run.status != RunStatus.DONE.value:
        return None
    path = run_dir(run.id) / "results.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def status_payload(run: ReportRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "progress": round(run.progress, 3),
        "step": run.current_step,
        "step_label": _(STEP_LABELS.get(run.current_step or "", run.current_step or "")),
        "error": run.error_message if run.status == RunStatus.FAILED.value else None,
        "url": url_for("reports.show", run_id=run.id),
    }


@bp.route("/")
@role_required("admin")
def index():  # type: ignore[no-untyped-def]
    expire_stale_runs(db.session)
    trials = db.session.scalars(select(Trial).order_by(Trial.created_at)).all()
    form = StartRunForm(trials)
    return render_template("reports/index.html", form=form, runs=runs_of(db.session), trials=trials,
                           step_labels=STEP_LABELS)


@bp.route("/", methods=["POST"])
@role_required("admin")
def start():  # type: ignore[no-untyped-def]
    trials = db.session.scalars(select(Trial).order_by(Trial.created_at)).all()
    form = StartRunForm(trials)
    if not form.validate_on_submit():
        return render_template("reports/index.html", form=form, runs=runs_of(db.session), trials=trials,
                               step_labels=STEP_LABELS), 400
    trial = db.session.get(Trial, form.trial_id.data)
    if trial is None:
        abort(404)
    try:
        run = start_run(db.session, trial, requested_by=current_user._get_current_object(),
                        parameters={"include_free_text": bool(form.include_free_text.data)})
    except RunAlreadyActive as active:
        flash(_("An analysis of this trial is already under way; here it is."), "warning")
        return redirect(url_for("reports.show", run_id=active.run.id))
    except ParameterError as error:
        flash(str(error), "error")
        return redirect(url_for("reports.index"))
    flash(_("The analysis has been queued. This page shows its progress."), "success")
    return redirect(url_for("reports.show", run_id=run.id))


@bp.route("/<int:run_id>")
@role_required("admin")
def show(run_id: int):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    results = load_results(run)
    context: dict[str, Any] = {}
    if results is not None:
        record(db.session, "report.view", target=run, detail={"trial_id": run.trial_id})
        context = report_context(results, lambda name: url_for("reports.figure", run_id=run.id, name=name))
    return render_template("reports/run.html", run=run, status=status_payload(run), action_form=RunActionForm(),
                           has_results=results is not None, **context)


@bp.route("/<int:run_id>/status.json")
@role_required("admin")
def status(run_id: int):  # type: ignore[no-untyped-def]
    return jsonify(status_payload(_run_or_404(run_id)))


@bp.route("/<int:run_id>/cancel", methods=["POST"])
@role_required("admin")
def cancel(run_id: int):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    if not RunActionForm().validate_on_submit():
        abort(400)
    if cancel_run(db.session, run, actor=current_user._get_current_object()):
        flash(_("The analysis was cancelled."), "success")
    return redirect(url_for("reports.show", run_id=run.id))


@bp.route("/<int:run_id>/restart", methods=["POST"])
@role_required("admin")
def restart(run_id: int):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    if not RunActionForm().validate_on_submit():
        abort(400)
    try:
        new = start_run(db.session, run.trial, requested_by=current_user._get_current_object(),
                        parameters=run.parameters)
    except RunAlreadyActive as active:
        flash(_("An analysis of this trial is already under way; here it is."), "warning")
        return redirect(url_for("reports.show", run_id=active.run.id))
    flash(_("The analysis has been started again."), "success")
    return redirect(url_for("reports.show", run_id=new.id))


@bp.route("/<int:run_id>/figures/<name>")
@role_required("admin")
def figure(run_id: int, name: str):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    if run.status != RunStatus.DONE.value or not FIGURE_NAME.match(name):
        abort(404)
    path = run_dir(run.id) / "figures" / name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/svg+xml", max_age=0)


def _download(run: ReportRun, filename: str, mimetype: str, download_name: str):  # type: ignore[no-untyped-def]
    if run.status != RunStatus.DONE.value:
        abort(404)
    path: Path = run_dir(run.id) / filename
    if not path.is_file():
        abort(404)
    record(db.session, "report.download", target=run,
           detail={"trial_id": run.trial_id, "file": filename, "bytes": path.stat().st_size})
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=download_name, max_age=0)


@bp.route("/<int:run_id>/export.zip")
@role_required("admin")
def export_zip(run_id: int):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    return _download(run, "export.zip", "application/zip", f"{run.trial.slug}-analysis-{run.id}-export.zip")


@bp.route("/<int:run_id>/results.json")
@role_required("admin")
def results_json(run_id: int):  # type: ignore[no-untyped-def]
    run = _run_or_404(run_id)
    return _download(run, "results.json", "application/json", f"{run.trial.slug}-analysis-{run.id}-results.json")
