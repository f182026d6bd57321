"""``flask --app wsgi instruments ...``: list the loaded instruments, install licensed wording."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from icbt.extensions import db

instruments_group = AppGroup("instruments", help="Questionnaire definitions and their licensed wording.")


@instruments_group.command("list")
def list_instruments() -> None:
    """The loaded instruments and, per trial, the installed wording."""
    from icbt.measures.instruments import registry
    from icbt.measures.models import InstalledWording
    from icbt.trials.models import Trial

    for instrument in sorted(registry().values(), key=lambda i: i.id):
        click.echo(f"{instrument.id:<20} v{instrument.version:<6} {len(instrument.items):>3} items  {instrument.name}  ({instrument.source_file})")
    rows = db.session.execute(
        select(Trial.slug, InstalledWording.instrument_id, InstalledWording.wording_version, InstalledWording.language)
        .join(Trial, Trial.id == InstalledWording.trial_id).order_by(Trial.slug, InstalledWording.instrument_id)
    ).all()
    if not rows:
        click.echo("No licensed wording installed: patients see our own short labels.")
    for slug, instrument_id, version, language in rows:
        click.echo(f"  trial {slug}: {instrument_id} wording {version} ({language})")


@instruments_group.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trial", "trial_slug", default=None, help="Trial slug (needed when there is more than one trial).")
def install(file: Path, trial_slug: str | None) -> None:
    """Check FILE (official wording) item by item against its definition and install it."""
    from icbt.measures.instruments import registry
    from icbt.measures.wording import WordingError, install_wording, read_wording_file
    from icbt.trials.models import Trial

    try:
        data, sha256 = read_wording_file(file)
    except WordingError as error:
        raise click.ClickException(str(error)) from None
    instrument = registry().get(str(data.get("instrument")))
    if instrument is None:
        raise click.ClickException(f"{file}: instrument {data.get('instrument')!r} is not defined (see `instruments list`).")
    if trial_slug:
        trial = db.session.scalar(select(Trial).where(Trial.slug == trial_slug))
        if trial is None:
            raise click.ClickException(f"No trial with slug {trial_slug!r}.")
    else:
        trials = db.session.scalars(select(Trial)).all()
        if len(trials) != 1:
            raise click.ClickException("Give --trial SLUG: " + (", ".join(t.slug for t in trials) or "there is no trial yet"))
        trial = trials[0]
    try:
        wording, created = install_wording(db.session, trial, instrument, data, source=str(file), sha256=sha256)
    except WordingError as error:
        db.session.rollback()
        lines = "\n".join(f"  - {p}" for p in error.problems)
        raise click.ClickException(f"{file} does not match {instrument.id} v{instrument.version}; nothing installed:\n{lines}") from None
    db.session.commit()
    if created:
        click.echo(f"Installed {instrument.id} wording {wording.wording_version} ({wording.language}) for trial {trial.slug}: "
                   f"{len(instrument.items)} items checked.")
    else:
        click.echo(f"{instrument.id} wording {wording.wording_version} was already installed for trial {trial.slug}; nothing changed.")


@instruments_group.command("refresh")
def refresh() -> None:
    """Run the periodic measurement work once now (schedules, windows, reminders)."""
    from icbt.measures.services import refresh_all

    totals = refresh_all(db.session)
    db.session.commit()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(totals.items())))
