"""Command line: ``flask --app wsgi <command>``."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from icbt.extensions import db


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(users_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(worker_command)
    from icbt.measures.cli import instruments_group

    app.cli.add_command(instruments_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(periodic_command)


db_group = AppGroup("db", help="Database schema (Alembic migrations).")


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the database schema to REVISION (default: head)."""
    from icbt import migrate

    migrate.upgrade(current_app._get_current_object(), revision)
    click.echo(f"Database at revision {migrate.current_revision(current_app._get_current_object())}.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade the database schema to REVISION (``base`` empties it)."""
    from icbt import migrate

    migrate.downgrade(current_app._get_current_object(), revision)
    click.echo(f"Database at revision {migrate.current_revision(current_app._get_current_object())}.")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", default=None, help="Revision id (default: generated).")
def db_revision(message: str, rev_id: str | None) -> None:
    """Autogenerate a migration from the models (database must be at head)."""
    from alembic import command

    from icbt import migrate

    app = current_app._get_current_object()
    with app.extensions["icbt.db"].begin() as connection:
        command.revision(migrate.alembic_config(app, connection), message=message, autogenerate=True, rev_id=rev_id)


@db_group.command("current")
def db_current() -> None:
    from icbt import migrate

    click.echo(migrate.current_revision(current_app._get_current_object()) or "(empty)")


users_group = AppGroup("users", help="Accounts.")


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(["patient", "therapist", "admin"]), required=True)
@click.password_option(prompt=True, confirmation_prompt=True)
def users_create(email: str, display_name: str, role: str, password: str) -> None:
    """Create an account of ROLE."""
    from icbt.users.services import AccountError, create_user

    try:
        user = create_user(db.session, email=email, password=password, role=role, display_name=display_name)
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {role} account {user.email} (id {user.id}).")


def _user_or_fail(email: str):  # type: ignore[no-untyped-def]
    from icbt.users.services import get_user_by_email

    user = get_user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No account with the e-mail address {email}.")
    return user


@users_group.command("totp")
@click.argument("email")
@click.option("--secret", "show_secret", is_flag=True, help="Print the setup key instead of the current code.")
def users_totp(email: str, show_secret: bool) -> None:
    """Print the current second-factor code of a DEMO staff account (demo accounts only)."""
    from icbt import clock
    from icbt.security import second_factor
    from icbt.security.demo import is_demo_account

    user = _user_or_fail(email)
    factor = second_factor.get(db.session, user)
    secret = factor.secret if factor is not None else None
    if not is_demo_account(user.email, secret):
        raise click.ClickException("Codes are printed only for demo accounts with their demo key; real accounts use their own app.")
    if show_secret:
        click.echo(secret)
        return
    now = clock.now()
    left = second_factor.STEP - int(now.timestamp()) % second_factor.STEP
    click.echo(f"{second_factor.current_code(secret, now)}   (valid for {left} more seconds; each code works once)")


@users_group.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Deactivate an account: no further login, every session ends at once."""
    from icbt.users.services import deactivate_user

    user = _user_or_fail(email)
    deactivate_user(db.session, user)
    db.session.commit()
    click.echo(f"Deactivated {user.email}; every session of the account has ended.")


@users_group.command("reset-second-factor")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_reset_second_factor(email: str, yes: bool) -> None:
    """Remove an account's second factor and recovery codes (a lost phone). Check who is
    asking first. Staff set up a new one at their next login; their sessions end now."""
    from icbt import clock
    from icbt.security import second_factor
    from icbt.security.sessions import end_all

    user = _user_or_fail(email)
    if not yes:
        click.confirm(f"Remove the second factor of {user.email}?", abort=True)
    second_factor.remove(db.session, user, reason="reset")
    end_all(db.session, user, now=clock.now(), reason="second_factor_reset")
    db.session.commit()
    click.echo(f"Removed the second factor of {user.email}.")


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, writable=True))
@with_appcontext
def backup_command(directory: str) -> None:
    """Write a consistent backup of the database into DIRECTORY (SQLite: online backup;
    PostgreSQL: pg_dump), with a manifest of row counts and checksums per table."""
    from icbt.backup import BackupError, backup

    try:
        path, manifest = backup(current_app._get_current_object(), directory)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"Backup written: {path} ({len(manifest['tables'])} tables, {rows} rows; manifest {path}.json)")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(file: str, replace: bool) -> None:
    """Restore the backup FILE into the configured database and check it against the
    backup's manifest (row counts and checksums per table)."""
    from icbt.backup import BackupError, restore

    try:
        checked = restore(current_app._get_current_object(), file, replace=replace)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {file}: {checked} tables match the manifest's row counts and checksums.")


@click.command("demo")
@click.option("--seed", default=2026, show_default=True, help="Seed for the generated trial.")
@click.option("--if-empty", is_flag=True, help="Only seed when the database has no users.")
@with_appcontext
def demo_command(seed: int, if_empty: bool) -> None:
    """Seed a realistic demo trial (re-running adds nothing twice and destroys nothing)."""
    from icbt.demo import DEMO_PASSWORD, database_is_empty, seed_demo

    if current_app.config.get("NAME") == "production":
        raise click.ClickException(
            "The demo's passwords and second-factor keys are public; it is refused in production."
        )
    if if_empty and not database_is_empty(db.session):
        click.echo("The database already has data; the demo was not seeded.")
        return
    summary = seed_demo(db.session, seed=seed)
    db.session.commit()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"Demo password for every account: {DEMO_PASSWORD}")
    from icbt.security.demo import demo_second_factor_lines

    for line in demo_second_factor_lines():
        click.echo(line)


@click.command("periodic")
@with_appcontext
def periodic_command() -> None:
    """Run the worker's periodic work once now: questionnaire windows, invitations and
    reminders, then the stages that move with time (what the worker does every 15 minutes)."""
    from icbt.measures.services import refresh_all
    from icbt.treatment.stages import advance_stages

    totals = refresh_all(db.session)
    moved = advance_stages(db.session)
    db.session.commit()
    click.echo("measures: " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())))
    click.echo("stages: " + (", ".join(f"{k}: {v}" for k, v in sorted(moved.items())) or "none moved"))


@click.command("worker")
@click.option("--workers", default=2, show_default=True)
@with_appcontext
def worker_command(workers: int) -> None:
    """Run the background task consumer (Huey) for this app."""
    from huey.consumer import Consumer

    from icbt.extensions import queue

    click.echo(f"Worker: Huey on {current_app.config['HUEY']['backend']}, {workers} threads.")
    sys.stdout.flush()
    consumer = Consumer(queue.huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True)
    consumer.run()
