"""Faults: an unreachable database is a clear 503 (and an accepted write is never lost:
a failed commit is not answered with a success); concurrent writes from the web app and
a worker process on SQLite never fail with "database is locked"."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from icbt import migrate
from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.security.models import LoginThrottle, UserSession
from icbt.security.throttle import Backoff
from tests.conftest import PASSWORD, Factory, make_test_app

UNREACHABLE = {
    "postgresql-refused": "postgresql://nobody@127.0.0.1:1/none",
    "sqlite-unopenable": "sqlite:////nonexistent-folder/for/sure/icbt.sqlite3",
}


@pytest.mark.parametrize("url", UNREACHABLE.values(), ids=UNREACHABLE.keys())
@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("POST", "/auth/login"), ("GET", "/admin/audit/")])
def test_unreachable_database_is_a_clear_503(tmp_path: Path, url: str, method: str, path: str) -> None:
    app = make_test_app(url, tmp_path)
    client = app.test_client()
    response = client.open(path, method=method, data={"email": "kim@example.org", "password": PASSWORD})
    if path == "/admin/audit/":  # anonymous: the login page, which needs no database
        assert response.status_code == 302
        return
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    html = response.get_data(as_text=True)
    assert "briefly unavailable" in html and "Traceback" not in html
    app.extensions["icbt.db"].dispose()


def test_a_failed_commit_is_a_503_and_nothing_was_accepted(app, tmp_path: Path, database_url: str) -> None:
    other = make_test_app(database_url, tmp_path)
    user = Factory().user()
    engine = other.extensions["icbt.db"]
    failing = {"on": False}

    @event.listens_for(engine, "commit")
    def _fail(conn):  # type: ignore[no-untyped-def]
        if failing["on"]:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    client = other.test_client()
    failing["on"] = True
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    failing["on"] = False
    assert response.status_code == 503 and "briefly unavailable" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert client.get("/me/").status_code == 302  # not logged in: the login was not accepted
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    assert client.get("/me/").status_code == 200
    engine.dispose()


@pytest.mark.slow
def test_web_app_and_worker_process_write_concurrently_on_sqlite(tmp_path: Path) -> None:
    from tests.security import _concurrency_worker

    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    web = make_test_app(url, tmp_path)
    web.config["THROTTLE_POLICIES"] = {k: Backoff(free=10**6, base=1, cap=1, window=3600) for k in ("acct", "ip", "dev", "2fa")}
    migrate.upgrade(web)
    with web.app_context():
        patient = Factory().user()
        db.session.remove()

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    n_worker, n_web = 100, 40
    worker = ctx.Process(target=_concurrency_worker.run, args=(url, str(tmp_path / "w"), n_worker, start, results))
    worker.start()
    anonymous, logged_in = web.test_client(), web.test_client()
    assert logged_in.post("/auth/login", data={"email": patient.email, "password": PASSWORD}).status_code == 302
    start.set()
    statuses = []
    for i in range(n_web):
        # read-then-write requests: a failed login (user lookup, counters, audit) and a save
        statuses.append(anonymous.post("/auth/login", data={"email": f"x{i}@example.org", "password": "wrong-password-1"}).status_code)
        statuses.append(logged_in.post("/account/name", data={"display_name": f"Name {i}"}).status_code)
    done, errors = results.get(timeout=120)
    worker.join(timeout=30)
    assert errors == [], errors[:3]
    assert done == n_worker
    assert statuses == [200, 302] * n_web
    with web.app_context():
        ticks = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "worker.tick"))
        failed = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
        counter = db.session.get(LoginThrottle, "worker:ticks")
        names = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.name_change"))
        assert (ticks, failed, counter.failures, names) == (n_worker, n_web, n_worker, n_web)
        db.session.remove()
    web.extensions["icbt.db"].dispose()
