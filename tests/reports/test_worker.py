"""The real consumer (``flask --app wsgi worker``) in a subprocess: a run on the embedded SQLite
queue whose worker is killed with SIGKILL mid-run, and a run through Redis."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from icbt.extensions import db, queue
from icbt.reports import job
from icbt.reports.models import ReportRun
from icbt.reports.services import expire_stale_runs, start_run
from tests.conftest import make_test_app
from tests.reports.helpers import build_trial

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
pytestmark = pytest.mark.slow


def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``condition`` (a real subprocess is working; there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run_state(run_id: int) -> ReportRun:
    """Read the run without taking SQLite's write lock (the worker needs it)."""
    db.session.commit()
    with db.read_only_session() as reader:
        run = reader.get(ReportRun, run_id)
        assert run is not None
        reader.expunge(run)
    return run


@contextmanager
def worker(instance: Path, database_url: str, log: Path, **env: str) -> Iterator[subprocess.Popen]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ICBT_CONFIG": "development",
        "ICBT_INSTANCE": str(instance), "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **env,
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen([FLASK, "--app", "wsgi", "worker", "--workers", "1"], cwd=ROOT, env=environment,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def bound_queue(app, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Bind the task queue to a real backend for one test, then back to the test app's."""
    made: list[Any] = []

    def bind(huey_config: dict[str, Any]) -> Any:
        other = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, HUEY=huey_config)
        queue.init_app(other)
        made.append(other)
        return other

    yield bind
    for other in made:
        queue.huey.storage.flush_all()
        other.extensions["icbt.db"].dispose()
    queue.init_app(app)


def _db_url_for_subprocess(app) -> str:  # type: ignore[no-untyped-def]
    return app.config["SQLALCHEMY_DATABASE_URI"]


def test_a_killed_worker_leaves_a_failed_run_that_can_be_started_again(app, factory, tmp_path, bound_queue) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=8, n_waitlist=6)
    bound_queue({"backend": "sqlite", "filename": str(tmp_path / "huey.sqlite3"), "name": "icbt", "immediate": False})
    assert app.config["REPORTS_DIR"] != tmp_path / "reports"  # the worker writes into its own instance
    run = start_run(db.session, built.trial)
    run_id = run.id
    db.session.commit()  # queued in the SQLite queue file
    log = tmp_path / "worker.log"
    url = _db_url_for_subprocess(app)
    with worker(tmp_path, url, log, ICBT_REPORT_HOLD_STEP="analyse") as proc:
        held = _wait_for(lambda: (r := _run_state(run_id)).current_step == "analyse" and r, "the held step")
        assert held.status == "running" and held.worker and f":{proc.pid}:" in held.worker
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    dead = _run_state(run_id)
    assert dead.status == "running"  # nobody has looked yet
    # Read with a clock past the heartbeat timeout: the run is declared failed.
    later = dead.heartbeat_at + dt.timedelta(seconds=61)
    expired = expire_stale_runs(db.session, now=later, stale_after=60)
    db.session.commit()
    assert [r.id for r in expired] == [run_id]
    dead = _run_state(run_id)
    assert dead.status == "failed" and "stopped responding" in dead.error_message
    assert "analyse" in dead.error_message
    # Start again: a new run, picked up by a fresh worker, finishes.
    again = start_run(db.session, built.trial)
    again_id = again.id
    db.session.commit()
    with worker(tmp_path, url, log):
        done = _wait_for(lambda: (r := _run_state(again_id)).status in ("done", "failed") and r, "the second run")
    assert done.status == "done", (done.error_message, log.read_text()[-3000:])
    results = json.loads((tmp_path / "reports" / str(again_id) / "results.json").read_text())
    assert results["run_id"] == again_id and results["residual_gain"]["n"] == 8  # every treatment participant has pre and post


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("ICBT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {url}: {error} - CI must test Redis")
        pytest.skip(f"Redis not reachable at {url}: {error}")
    return url


def test_a_run_through_redis_and_a_real_consumer(app, factory, tmp_path, bound_queue, redis_url) -> None:  # type: ignore[no-untyped-def]
    import redis

    built = build_trial(factory, n_treatment=6, n_waitlist=5)
    name = f"icbt_test_{uuid.uuid4().hex[:10]}"  # Huey keeps only [A-Za-z0-9_] of the name
    bound_queue({"backend": "redis", "url": redis_url, "name": name, "immediate": False})
    client = redis.Redis.from_url(redis_url)
    try:
        run = start_run(db.session, built.trial)
        run_id = run.id
        db.session.commit()
        assert client.llen(f"huey.redis.{name}") == 1, _run_state(run_id).error_message  # really in Redis, under our own name
        log = tmp_path / "worker.log"
        with worker(tmp_path, _db_url_for_subprocess(app), log, REDIS_URL=redis_url, HUEY_QUEUE_NAME=name):
            done = _wait_for(lambda: (r := _run_state(run_id)).status in ("done", "failed") and r, "the run")
        assert done.status == "done", (done.error_message, log.read_text()[-3000:])
        assert "Huey on redis" in log.read_text()
        assert (tmp_path / "reports" / str(run_id) / "export.zip").is_file()
        assert client.llen(f"huey.redis.{name}") == 0
    finally:
        queue.huey.storage.flush_all()
        leftovers = [k for k in client.scan_iter(f"huey.*.{name}*")]
        client.close()
    assert leftovers == []
