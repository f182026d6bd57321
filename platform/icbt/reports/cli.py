"""``flask --app wsgi report run [--wait]`` and ``flask --app wsgi export DIR``."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from icbt.extensions import db

report_group = AppGroup("report", help="The trial analysis report.")


def _trial(slug: str | None):  # type: ignore[no-untyped-def]
    from icbt.trials.models import Trial

    if slug:
        trial = db.session.scalar(select(Trial).where(Trial.slug == slug))
        if trial is None:
            raise click.ClickException(f"No trial with slug {slug!r}.")
        return trial
    trials = db.session.scalars(select(Trial).order_by(Trial.id)).all()
    if not trials:
        raise click.ClickException("There is no trial to analyse.")
    if len(trials) > 1:
        raise click.ClickException("Several trials exist; name one with --trial SLUG: "
                                   + ", ".join(t.slug for t in trials))
    return trials[0]


@report_group.command("run")
@click.option("--trial", "slug", default=None, help="Trial slug (default: the only trial).")
@click.option("--wait", is_flag=True, help="Wait for the worker to finish, showing progress.")
@click.option("--inline", is_flag=True, help="Run the job in this process instead of the worker.")
@click.option("--include-free-text", is_flag=True, help="Add free text to the exports (flagged in the codebook).")
@click.option("--pickup-timeout", default=60.0, show_default=True,
              help="With --wait: give up if no worker has started the run after this many seconds.")
def report_run(slug: str | None, wait: bool, inline: bool, include_free_text: bool, pickup_timeout: float) -> None:
    """Queue the analysis of a trial (the same job as the web page's "Run analysis")."""
    from icbt.analysis.results import ParameterError
    from icbt.reports.job import STEP_LABELS, execute_run, run_dir
    from icbt.reports.models import ReportRun
    from icbt.reports.services import RunAlreadyActive, pending_ids, start_run

    trial = _trial(slug)
    try:
        run = start_run(db.session, trial, parameters={"include_free_text": include_free_text})
    except RunAlreadyActive as active:
        raise click.ClickException(f"Run {active.run.id} of this trial is already {active.run.status}.") from None
    except ParameterError as error:
        raise click.ClickException(str(error)) from None
    run_id = run.id
    if inline:
        db.session.info.pop("icbt.reports.enqueue", None)  # do not hand it to the queue as well
        assert run_id not in pending_ids(db.session)
    db.session.commit()
    click.echo(f"Run {run_id} queued for trial {trial.slug}.")
    if inline:
        status = execute_run(run_id)
        click.echo(f"Run {run_id}: {status}.")
    elif wait:
        started = time.monotonic()
        last = None
        while True:
            db.session.expire_all()
            current = db.session.get(ReportRun, run_id)
            assert current is not None
            db.session.commit()
            line = f"{current.status}: {STEP_LABELS.get(current.current_step or '', current.current_step)} {current.progress:.0%}"
            if line != last:
                click.echo(line)
                last = line
            if current.status in ("done", "failed"):
                break
            if current.status == "queued" and time.monotonic() - started > pickup_timeout:
                raise click.ClickException(
                    f"No worker started run {run_id} within {pickup_timeout:g} s. Start one with "
                    "`flask --app wsgi worker`, or use --inline. The run stays queued.")
            time.sleep(0.5)
    final = db.session.get(ReportRun, run_id)
    db.session.refresh(final)
    if final.status == "done":
        click.echo(f"Report: {run_dir(run_id)}")
    elif final.status == "failed":
        raise click.ClickException(f"Run {run_id} failed: {final.error_message}")


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--trial", "slug", default=None, help="Trial slug (default: the only trial).")
@click.option("--include-free-text", is_flag=True, help="Add free text (flagged in the codebook).")
@with_appcontext
def export_command(directory: Path, slug: str | None, include_free_text: bool) -> None:
    """Write the pseudonymised exports (CSV, codebook, results.json) of a trial into DIRECTORY."""
    from icbt.analysis.results import analyse
    from icbt.audit.services import record
    from icbt.reports.exports import write_export_dir
    from icbt.reports.loader import load_dataset

    trial = _trial(slug)
    with db.read_only_session() as reader:
        dataset = load_dataset(reader, trial)
        results = analyse(dataset, {"include_free_text": include_free_text},
                          software_version=str(current_app.config.get("SOFTWARE_VERSION", "")))
        counts = write_export_dir(reader, trial, results, directory, include_free_text=include_free_text)
    record(db.session, "report.export_cli", detail={"trial_id": trial.id, "files": sorted(counts),
                                                    "include_free_text": include_free_text})
    db.session.commit()
    for name, n in counts.items():
        click.echo(f"{directory / name}: {n} rows")
    click.echo(f"{directory / 'codebook.json'}, {directory / 'results.json'}")
