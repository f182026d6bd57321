"""The real migrations build exactly the models' schema, and go down and up again."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from icbt import migrate
from icbt.db import Base
from tests.conftest import make_test_app, scratch_postgres_database


def _diff(app) -> list:  # type: ignore[no-untyped-def]
    with app.app_context(), app.extensions["icbt.db"].connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(context, Base.metadata)


def _tables(app) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(app.extensions["icbt.db"]).get_table_names())


def _roundtrip(app) -> None:  # type: ignore[no-untyped-def]
    migrate.upgrade(app)
    assert _diff(app) == [], "migrations and models differ: write a migration"
    assert set(Base.metadata.tables) <= _tables(app)
    migrate.downgrade(app, "base")
    assert _tables(app) <= {"alembic_version"}
    migrate.upgrade(app)
    assert _diff(app) == []
    assert migrate.current_revision(app) is not None


def test_sqlite_upgrade_matches_models_and_roundtrips(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path)
    _roundtrip(app)


@pytest.mark.postgres
def test_postgres_upgrade_matches_models_and_roundtrips(pg_url: str, tmp_path: Path) -> None:
    with scratch_postgres_database(pg_url) as url:
        app = make_test_app(url, tmp_path)
        _roundtrip(app)
        app.extensions["icbt.db"].dispose()


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    from icbt.migrate import alembic_config

    app = make_test_app("sqlite://", Path("/tmp"))
    heads = ScriptDirectory.from_config(alembic_config(app)).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"
