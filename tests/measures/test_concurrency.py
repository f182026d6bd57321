"""Two submits at the same moment store one administration, on SQLite and PostgreSQL.

Each request runs in its own thread with its own client, app context and database session
against the same database, as two browser tabs (or a double click) would. On PostgreSQL both
requests are held at a rendezvous after they have read the administration as unanswered, so
both really try to write: the compare-and-set update lets one through and the other finds
the row already submitted. On SQLite the write lock (BEGIN IMMEDIATE) orders them."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from icbt import migrate
from icbt.extensions import db, queue
from icbt.measures import scoring, services
from icbt.measures.models import Administration, AdministrationAnswer, RiskAlert
from icbt.trials.services import create_trial, enrol
from icbt.users.services import create_user
from tests.conftest import PASSWORD, make_test_app, scratch_postgres_database
from tests.measures.conftest import core_answers


def _setup(app: Flask) -> tuple[int, str]:
    with app.app_context():
        therapist = create_user(db.session, email="t@example.org", password=PASSWORD, role="therapist", display_name="T")
        user = create_user(db.session, email="p@example.org", password=PASSWORD, role="patient", display_name="P")
        trial = create_trial(db.session, slug="race", name="Race", timezone="Europe/Stockholm", weeks=10)
        participant = enrol(db.session, trial, user, therapist=therapist)
        participant.arm, participant.status = "treatment", "randomised"
        participant.start_date = dt.date.today() + dt.timedelta(days=3)
        db.session.flush()
        services.materialise_schedule(db.session, participant)
        adm = db.session.scalar(select(Administration).where(
            Administration.participant_id == participant.id, Administration.instrument_id == "core-om",
            Administration.timepoint == "pre"))
        db.session.commit()
        return adm.id, user.email


def _race(app: Flask, monkeypatch: pytest.MonkeyPatch, *, same_key: bool) -> list[tuple[int, bool]]:
    adm_id, email = _setup(app)
    clients = [app.test_client() for _ in range(2)]
    for client in clients:
        client.post("/auth/login", data={"email": email, "password": PASSWORD})
    keys = ["a" * 32, "a" * 32] if same_key else ["a" * 32, "b" * 32]
    answers = [core_answers(1, i9=1), core_answers(3, i9=1)]
    url = f"/me/questionnaires/{adm_id}"
    is_postgres = app.extensions["icbt.db"].dialect.name == "postgresql"
    rendezvous = threading.Barrier(2, timeout=20)
    if is_postgres:
        real = scoring.score_answers

        def held(*args, **kwargs):  # type: ignore[no-untyped-def]
            rendezvous.wait()  # both requests have read the administration as unanswered
            return real(*args, **kwargs)

        monkeypatch.setattr(services, "score_answers", held)
    start = threading.Barrier(2, timeout=20)
    statuses: list[tuple[int, bool]] = []  # (status, redirected to the 'sent' page)
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            data = {f"item_{i}": str(v) for i, v in answers[n].items()}
            data.update(send="1", idempotency_key=keys[n])
            start.wait()
            response = clients[n].post(url, data=data)
            statuses.append((response.status_code, response.headers.get("Location", "").endswith("/sent")))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdministrationAnswer)) == 34
        assert db.session.scalar(select(func.count()).select_from(RiskAlert)) == 1
        adm = db.session.get(Administration, adm_id)
        assert adm.status == "submitted"
        assert adm.answer_map() in answers  # one of the two, whole, never a mix
        assert db.session.scalar(select(func.count()).select_from(Administration).where(
            Administration.instrument_id == "core-om", Administration.timepoint == "pre")) == 1
    return statuses


@pytest.mark.parametrize("same_key", [True, False], ids=["double-click", "two-tabs"])
def test_concurrent_submits_on_the_main_database(app: Flask, monkeypatch: pytest.MonkeyPatch, same_key: bool) -> None:
    db.session.commit()
    statuses = _race(app, monkeypatch, same_key=same_key)
    assert statuses == [(302, True), (302, True)]


@pytest.mark.postgres
@pytest.mark.parametrize("same_key", [True, False], ids=["double-click", "two-tabs"])
def test_concurrent_submits_on_postgresql(pg_url: str, tmp_path: Path, app: Flask, monkeypatch: pytest.MonkeyPatch,
                                          same_key: bool) -> None:
    with scratch_postgres_database(pg_url) as url:
        pg_app = make_test_app(url, tmp_path)
        try:
            migrate.upgrade(pg_app)
            assert _race(pg_app, monkeypatch, same_key=same_key) == [(302, True), (302, True)]
        finally:
            pg_app.extensions["icbt.db"].dispose()
            queue.init_app(app)


def test_concurrent_submits_on_sqlite(tmp_path: Path, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_app = make_test_app(f"sqlite:///{tmp_path / 'race.sqlite3'}", tmp_path)
    try:
        migrate.upgrade(sqlite_app)
        assert _race(sqlite_app, monkeypatch, same_key=False) == [(302, True), (302, True)]
    finally:
        sqlite_app.extensions["icbt.db"].dispose()
        queue.init_app(app)
