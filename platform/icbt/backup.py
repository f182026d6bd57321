"""Backup and restore of the whole database, checked by a manifest.

SQLite: the online backup API copies a consistent snapshot while the app keeps running.
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (the client must be at least
the server's major version). Each backup ``X`` gets ``X.json``, a manifest of row counts
and a SHA-256 per table computed from the same snapshot as the backup; ``restore``
recomputes them on the restored database and refuses to report success on a mismatch.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from icbt.db import Base, utcnow


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what to do."""


# ---------------------------------------------------------------- checksums

def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def table_checksums(connection: Connection) -> dict[str, dict[str, Any]]:
    """Row count and SHA-256 of every table of the models, rows in primary-key order."""
    existing = set(inspect(connection).get_table_names())
    out: dict[str, dict[str, Any]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name not in existing:
            continue
        digest = hashlib.sha256()
        rows = 0
        order = list(table.primary_key.columns) or list(table.columns)
        result = connection.execution_options(yield_per=1000).execute(select(table).order_by(*order))
        for row in result:
            line = json.dumps([_canonical(v) for v in row], sort_keys=True, default=str, ensure_ascii=False)
            digest.update(line.encode("utf-8"))
            digest.update(b"\n")
            rows += 1
        out[table.name] = {"rows": rows, "sha256": digest.hexdigest()}
    return out


def _revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _manifest(connection: Connection, dialect: str) -> dict[str, Any]:
    from icbt import __version__

    return {
        "created_at": utcnow().isoformat(),
        "dialect": dialect,
        "revision": _revision(connection),
        "software_version": __version__,
        "tables": table_checksums(connection),
    }


# ---------------------------------------------------------------- helpers

def _url(app: Flask):  # type: ignore[no-untyped-def]
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq(url) -> tuple[list[str], dict[str, str]]:  # type: ignore[no-untyped-def]
    """Connection arguments for pg_dump/pg_restore (password through the environment)."""
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432), "--username", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args + ["--dbname", url.database or "postgres"], env


def _major(version_text: str) -> int:
    """15 for "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text) or re.search(r"(\d+)", version_text)
    return int(match.group(1)) if match else 0


def _check_pg_tool(tool: str, server_version_num: int) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} was not found. Install the PostgreSQL client of the server's version (e.g. postgresql-client).")
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    client, server = _major(output), server_version_num // 10000
    if client < server:
        raise BackupError(f"{tool} {client} is older than the server ({server}); install postgresql-client-{server}.")
    return path


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------- backup

def backup(app: Flask, directory: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    url = _url(app)
    if url.get_backend_name() == "sqlite":
        return _backup_sqlite(url, folder)
    if url.get_backend_name() == "postgresql":
        return _backup_postgres(app, url, folder)
    raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")


def _backup_sqlite(url, folder: Path) -> tuple[Path, dict[str, Any]]:  # type: ignore[no-untyped-def]
    source_path = url.database
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise BackupError(f"There is no SQLite database file at {source_path!r}.")
    target = folder / f"icbt-{_stamp()}.sqlite3"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(source_path, timeout=30)
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)  # a consistent snapshot, even while others write
        finally:
            dest.close()
    finally:
        source.close()
    os.replace(partial, target)
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            manifest = _manifest(connection, "sqlite")
    finally:
        engine.dispose()
    _write_manifest(target, manifest)
    return target, manifest


def _backup_postgres(app: Flask, url, folder: Path) -> tuple[Path, dict[str, Any]]:  # type: ignore[no-untyped-def]
    engine = app.extensions["icbt.db"]
    target = folder / f"icbt-{_stamp()}.dump"
    with engine.connect() as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one())
        tool = _check_pg_tool("pg_dump", server)
        # The manifest and the dump read the same snapshot, so they agree even while the
        # app keeps writing.
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            args, env = _libpq(url)
            result = subprocess.run(
                [tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                 "--file", str(target), *args],
                capture_output=True, text=True, env=env,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
            manifest = _manifest(connection, "postgresql")
    _write_manifest(target, manifest)
    return target, manifest


def _write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    manifest = {**manifest, "file": target.name, "file_sha256": _file_sha256(target)}
    Path(f"{target}.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- restore

def _has_data(connection: Connection) -> bool:
    names = set(inspect(connection).get_table_names())
    for table in Base.metadata.sorted_tables:
        if table.name in names and connection.execute(select(table).limit(1)).first() is not None:
            return True
    return False


def restore(app: Flask, file: str | os.PathLike[str], *, replace: bool = False) -> int:
    """Restore ``file`` into the configured database; returns the number of tables that
    were checked against the manifest. Refuses a database holding data unless ``replace``."""
    path = Path(file)
    manifest_path = Path(f"{path}.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else None
    if manifest is not None and manifest.get("file_sha256") not in (None, _file_sha256(path)):
        raise BackupError(f"{path.name} does not match its manifest: the file is damaged or was changed.")
    url = _url(app)
    engine = app.extensions["icbt.db"]
    with engine.connect() as connection:
        if _has_data(connection) and not replace:
            raise BackupError("The database already holds data. Restore into an empty database, or add --replace.")
    backend = url.get_backend_name()
    if backend == "sqlite":
        if manifest is not None and manifest.get("dialect") != "sqlite":
            raise BackupError("This is not a SQLite backup.")
        engine.dispose()
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            dest = sqlite3.connect(url.database, timeout=30)
            try:
                source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
        engine.dispose()
    elif backend == "postgresql":
        if manifest is not None and manifest.get("dialect") != "postgresql":
            raise BackupError("This is not a PostgreSQL backup.")
        with engine.connect() as connection:
            server = int(connection.execute(text("SHOW server_version_num")).scalar_one())
        tool = _check_pg_tool("pg_restore", server)
        engine.dispose()
        args, env = _libpq(url)
        command = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if replace:
            command += ["--clean", "--if-exists"]
        result = subprocess.run([*command, *args, str(path)], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")
    else:
        raise BackupError(f"Restoring into {backend} is not supported.")
    if manifest is None:
        return 0
    with engine.connect() as connection:
        restored = table_checksums(connection)
    expected = manifest["tables"]
    wrong = sorted(name for name in expected if restored.get(name) != expected[name])
    if wrong:
        raise BackupError("The restored database differs from the backup's manifest in: " + ", ".join(wrong))
    return len(expected)
