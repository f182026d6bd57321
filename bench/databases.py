"""The databases a benchmark runs on: a SQLite file, or a scratch PostgreSQL database
created on the server at ICBT_BENCH_PG_URL and dropped afterwards."""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_engine(normalise_database_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not there"
        return False


@contextmanager
def scratch_database(kind: str, pg_url: str | None) -> Iterator[str | None]:
    """A fresh empty database of ``kind`` ("sqlite" or "postgres"): its URL, or None when
    PostgreSQL does not answer."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="icbt-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    if not pg_url or not postgres_reachable(pg_url):
        yield None
        return
    with scratch_postgres_database(pg_url, prefix="icbt_bench") as url:
        yield url


@contextmanager
def scratch_postgres_database(base_url: str, *, prefix: str = "icbt_t") -> Iterator[str]:
    """A new empty PostgreSQL database on the server of ``base_url``, dropped afterwards
    (also the test suite's scratch databases)."""
    base = make_url(normalise_database_url(base_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
