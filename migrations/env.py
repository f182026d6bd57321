"""Alembic environment: the schema comes from the app's models, the URL from its config."""
from __future__ import annotations

import sys
from pathlib import Path

from alembic import context

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT / "platform"), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from icbt.models import Base  # noqa: E402

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Plain `alembic` command: build the engine the app would use.
    from config import load_config
    from icbt.extensions import make_engine

    url = config.get_main_option("sqlalchemy.url") or load_config().SQLALCHEMY_DATABASE_URI
    if not url:
        url = load_config().SQLALCHEMY_DATABASE_URI
    engine = make_engine(url)
    with engine.begin() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
