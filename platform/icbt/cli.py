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
    from icbt.reports.cli import export_command, report_group

    app.cli.add_command(report_group)
    app.cli.add_command(export_command)


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


@click.command("demo")
@click.option("--seed", default=2026, show_default=True, help="Seed for the generated trial.")
@click.option("--if-empty", is_flag=True, help="Only seed when the database has no users.")
@with_appcontext
def demo_command(seed: int, if_empty: bool) -> None:
    """Seed a realistic demo trial (re-running adds nothing twice and destroys nothing)."""
    from icbt.demo import DEMO_PASSWORD, database_is_empty, seed_demo

    if if_empty and not database_is_empty(db.session):
        click.echo("The database already has data; the demo was not seeded.")
        return
    summary = seed_demo(db.session, seed=seed)
    db.session.commit()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"Demo password for every account: {DEMO_PASSWORD}")


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
