"""Fixtures: the app (schema built once by the real migrations), a client, the database
session, factories and a logged-in client for each role.

The suite runs on SQLite by default. Set ICBT_TEST_DATABASE_URL to run it on PostgreSQL
(.ci/run does). Tests that need PostgreSQL whatever the main database is use ``pg_url``:
they skip when no server answers, except under CI=true, where they fail.
"""
from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from bench.databases import scratch_postgres_database  # noqa: F401  (used by tests)
from config import TestConfig, normalise_database_url
from icbt import create_app, migrate
from icbt.db import Base
from icbt.db import utcnow
from icbt.extensions import db, queue
from icbt.security import second_factor
from icbt.security.models import SecondFactor
from icbt.trials.models import Participant, Trial
from icbt.trials.services import create_trial, enrol
from icbt.users.models import Role, User
from icbt.users.services import create_user

PASSWORD = "correct-horse-battery"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


# ---------------------------------------------------------------- databases

def _pg_reachable(url: str) -> str | None:
    """None if reachable, else the reason."""
    try:
        engine = create_engine(normalise_database_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"{error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A reachable PostgreSQL server URL (its database is left alone: use scratch databases)."""
    url = os.environ.get("ICBT_TEST_PG_URL") or os.environ.get("ICBT_TEST_DATABASE_URL") or DEFAULT_PG
    if not url.startswith("postgres"):
        url = DEFAULT_PG
    reason = _pg_reachable(url)
    if reason:
        message = f"PostgreSQL not reachable at {url} ({reason})"
        if os.environ.get("CI"):
            pytest.fail(message + " - CI must test PostgreSQL")
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The main test database: ICBT_TEST_DATABASE_URL (a scratch database on that server)
    or a SQLite file. Each xdist worker gets its own."""
    configured = os.environ.get("ICBT_TEST_DATABASE_URL")
    if configured and configured.startswith("postgres"):
        reason = _pg_reachable(configured)
        if reason:
            pytest.fail(f"ICBT_TEST_DATABASE_URL is set but not reachable: {reason}")
        with scratch_postgres_database(configured) as url:
            yield url
        return
    if configured:
        yield configured
        return
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as on a real server (own session, own ``g``),
    even while the test holds an app context to use ``db.session`` directly."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # Like a separate process, the request sees what the test committed; ending the
        # test's transaction also releases SQLite's write lock for the request.
        if has_app_context():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_test_app(database_url: str, instance_path: Any, **overrides: Any) -> Flask:
    config = TestConfig(database_url=database_url, instance_path=instance_path)
    for key, value in overrides.items():
        setattr(config, key, value)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    _CREATED_APPS.append(app)
    return app


_CREATED_APPS: list[Flask] = []


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close every pooled connection at the end (no ResourceWarning, scratch DBs droppable)."""
    yield
    for app in _CREATED_APPS:
        app.extensions["icbt.db"].dispose()


@pytest.fixture(scope="session")
def _session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_test_app(database_url, tmp_path_factory.mktemp("instance"))
    migrate.upgrade(app)
    yield app
    app.extensions["icbt.db"].dispose()


def _empty_all_tables(app: Flask) -> None:
    if has_app_context():
        db.session.rollback()
    engine = app.extensions["icbt.db"]
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Self-referencing rows (a retraction points at its message) are checked at commit.
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The app with an empty database (rows removed after each test; schema kept)."""
    app = _session_app
    queue.init_app(app)  # rebind: a test may have built another app
    with app.app_context():
        yield app
        db.session.remove()
    _empty_all_tables(app)
    queue.huey.storage.flush_all()


@pytest.fixture
def session(app: Flask):  # type: ignore[no-untyped-def]
    return db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


# ---------------------------------------------------------------- factories

class Factory:
    """Builds users, trials and participants with sensible defaults, committed."""

    def __init__(self) -> None:
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def user(self, role: Role | str = Role.PATIENT, *, email: str | None = None, name: str | None = None,
             password: str = PASSWORD, totp: bool | None = None) -> User:
        """A user of ``role``. Staff get a confirmed TOTP second factor unless ``totp=False``
        (then their first login goes through the setup); patients only with ``totp=True``."""
        n = self._next()
        role = Role(role)
        user = create_user(
            db.session,
            email=email or f"{role.value}{n}@example.org",
            password=password,
            role=role,
            display_name=name or f"{role.value.title()} {n}",
        )
        if totp if totp is not None else role.is_staff:
            second_factor.set_secret(db.session, user, second_factor.new_secret(), now=utcnow())
        db.session.commit()
        return user

    def trial(self, **fields: Any) -> Trial:
        n = self._next()
        fields.setdefault("slug", f"trial-{n}")
        fields.setdefault("name", f"Trial {n}")
        trial = create_trial(db.session, **fields)
        db.session.commit()
        return trial

    def participant(self, *, trial: Trial | None = None, therapist: User | None = None,
                    user: User | None = None, **fields: Any) -> Participant:
        trial = trial or db.session.query(Trial).first() or self.trial()
        user = user or self.user(Role.PATIENT)
        participant = enrol(db.session, trial, user, therapist=therapist)
        for key, value in fields.items():
            setattr(participant, key, value)
        db.session.commit()
        return participant


@pytest.fixture
def factory(app: Flask) -> Factory:
    return Factory()


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """The CSRF token of the form at ``path`` (for apps with CSRF enabled)."""
    import re

    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def _form(client: FlaskClient, path: str, data: dict[str, str]) -> dict[str, str]:
    if client.application.config.get("WTF_CSRF_ENABLED"):
        return {**data, "csrf_token": csrf_token(client, path)}
    return data


def security_now(app: Flask) -> Any:
    """The app's clock (``icbt.clock``), also outside a request."""
    from icbt import clock

    with app.app_context():
        return clock.now()


@contextmanager
def _db_for(app: Flask) -> Iterator[Any]:
    if has_app_context():
        yield db.session
        db.session.commit()
    else:
        with app.app_context():
            yield db.session
            db.session.commit()
            db.session.remove()


def totp_code(client: FlaskClient, user: User, *, pending: bool = False, reuse: bool = True) -> str:
    """The current TOTP code of ``user`` (``pending``: of the secret being set up).
    With ``reuse``, the single-use marker is reset first, so that a test can log the same
    staff user in several times within one 30-second step."""
    app = client.application
    with _db_for(app) as session:
        factor = session.get(SecondFactor, user.id)
        assert factor is not None, f"{user.email} has no second factor"
        if reuse:
            factor.last_used_step = None
        secret = factor.pending_secret if pending else factor.secret
    return second_factor.current_code(secret, security_now(app))


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> Any:
    """Log ``user`` in through the real pages, second factor included (staff)."""
    response = client.post("/auth/login", data=_form(client, "/auth/login", {"email": user.email, "password": password}))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    if location.startswith("/auth/two-factor/setup"):
        code = totp_code(client, user, pending=True, reuse=False)
        response = client.post(location, data=_form(client, location, {"code": code}))
        assert response.status_code == 200 and "recovery codes" in response.get_data(as_text=True), response.status
    elif location.startswith("/auth/two-factor"):
        code = totp_code(client, user)
        response = client.post(location, data=_form(client, location, {"code": code}))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login_as(client: FlaskClient):  # type: ignore[no-untyped-def]
    def _login(user: User, password: str = PASSWORD) -> FlaskClient:
        login(client, user, password)
        return client

    return _login


@pytest.fixture
def therapist(factory: Factory) -> User:
    return factory.user(Role.THERAPIST)


@pytest.fixture
def admin(factory: Factory) -> User:
    return factory.user(Role.ADMIN)


@pytest.fixture
def participant(factory: Factory, therapist: User) -> Participant:
    return factory.participant(therapist=therapist)


@pytest.fixture
def patient(participant: Participant) -> User:
    return participant.user
