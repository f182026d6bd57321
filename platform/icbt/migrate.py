"""Running Alembic from the app: the only way the schema changes."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from sqlalchemy import Connection


def alembic_config(app: Flask, connection: Connection | None = None) -> AlembicConfig:
    migrations = Path(app.config["MIGRATIONS_DIR"])
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", app.config["SQLALCHEMY_DATABASE_URI"].replace("%", "%%"))
    cfg.attributes["app"] = app
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    with app.app_context():
        engine = app.extensions["icbt.db"]
        with engine.begin() as connection:
            command.upgrade(alembic_config(app, connection), revision)


def downgrade(app: Flask, revision: str) -> None:
    with app.app_context():
        engine = app.extensions["icbt.db"]
        with engine.begin() as connection:
            command.downgrade(alembic_config(app, connection), revision)


def current_revision(app: Flask) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with app.app_context():
        with app.extensions["icbt.db"].connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
