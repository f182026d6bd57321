"""`flask --app wsgi backup DIR` and `restore FILE`: a restore into a fresh database has
the same rows, table by table (counts and checksums, and row by row)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from icbt import migrate
from icbt.audit.services import record
from icbt.backup import table_checksums
from icbt.db import Base
from icbt.extensions import db
from tests.conftest import Factory, make_test_app, scratch_postgres_database


def _rows(app) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """Every row of every table, independently of the backup module's checksums."""
    out = {}
    with app.extensions["icbt.db"].connect() as conn:
        names = set(inspect(conn).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in names:
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def _fill(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        factory = Factory()
        trial = factory.trial(settings={"randomisation_seed": 7, "nested": {"ü": [1, 2.5, None]}})
        user = factory.user("therapist", email="t-backup@example.org", name="Åsa \U0001F98A Öberg")
        for i in range(6):
            factory.participant(trial=trial, therapist=user, arm=("treatment", "waitlist")[i % 2], status="active")
        record(db.session, "auth.login", actor=user, target=user, detail={"reason": "línea ünïcode"})
        db.session.commit()
        db.session.remove()


def _head(app) -> str:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config(app)).get_current_head()


def _roundtrip(source, target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    migrate.upgrade(source)
    head = _head(source)
    _fill(source)
    result = source.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    files = [p for p in (tmp_path / "backups").iterdir() if not p.name.endswith(".json")]
    assert len(files) == 1
    manifest = json.loads(Path(f"{files[0]}.json").read_text())
    assert manifest["revision"] == head and manifest["tables"]["participants"]["rows"] == 6
    restored = target.test_cli_runner().invoke(args=["restore", str(files[0])])
    assert restored.exit_code == 0, restored.output
    assert "match the manifest" in restored.output
    before, after = _rows(source), _rows(target)
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert after == before
    with source.extensions["icbt.db"].connect() as a, target.extensions["icbt.db"].connect() as b:
        assert table_checksums(a) == table_checksums(b) == manifest["tables"]
    assert migrate.current_revision(target) == head
    again = target.test_cli_runner().invoke(args=["restore", str(files[0])])
    assert again.exit_code != 0 and "already holds data" in again.output
    replaced = target.test_cli_runner().invoke(args=["restore", str(files[0]), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert _rows(target) == before


def test_sqlite_backup_and_restore_into_a_fresh_database(tmp_path: Path) -> None:
    source = make_test_app(f"sqlite:///{tmp_path / 'live.sqlite3'}", tmp_path / "a")
    target = make_test_app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path / "b")
    _roundtrip(source, target, tmp_path)


@pytest.mark.postgres
def test_postgresql_backup_and_restore_into_a_fresh_database(pg_url: str, tmp_path: Path) -> None:
    with scratch_postgres_database(pg_url) as live, scratch_postgres_database(pg_url) as fresh:
        source, target = make_test_app(live, tmp_path / "a"), make_test_app(fresh, tmp_path / "b")
        try:
            _roundtrip(source, target, tmp_path)
            # the append-only trigger came back with the schema
            with target.extensions["icbt.db"].connect() as conn:
                from sqlalchemy import text

                with pytest.raises(Exception, match="append-only"):
                    conn.execute(text("DELETE FROM audit_events"))
        finally:
            source.extensions["icbt.db"].dispose()
            target.extensions["icbt.db"].dispose()


def test_a_damaged_backup_is_refused(tmp_path: Path) -> None:
    source = make_test_app(f"sqlite:///{tmp_path / 'live.sqlite3'}", tmp_path / "a")
    migrate.upgrade(source)
    result = source.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    backup = next(p for p in (tmp_path / "b").iterdir() if p.suffix == ".sqlite3")
    with open(backup, "r+b") as handle:
        handle.seek(2000)
        handle.write(b"\xff" * 16)
    target = make_test_app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path / "c")
    refused = target.test_cli_runner().invoke(args=["restore", str(backup)])
    assert refused.exit_code != 0 and "damaged" in refused.output
