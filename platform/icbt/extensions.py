"""Extensions, created once here and bound to an app in ``create_app``.

``db`` owns one engine per app and a session scoped to the app context: views and
services use ``db.session``; the request ends with one commit (or a rollback on error).
``queue`` is the Huey task queue, configured from ``app.config["HUEY"]``.
"""
from __future__ import annotations

import weakref
from typing import Any

from flask import Flask, current_app
from flask.globals import app_ctx
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from huey import Huey, MemoryHuey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock at the start, so a transaction that reads and
    # then writes waits (busy timeout) instead of failing with "database is locked" when
    # another process wrote in between. Requests are short, so this costs little. Long
    # read-only work (reports, exports) uses ``read_only_engine`` (deferred BEGIN) so that
    # it never holds the write lock; WAL keeps its reads consistent and non-blocking.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings the platform relies on (SQLite: WAL, FKs, busy timeout)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 15})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """Engine per app, session per app context."""

    def __init__(self) -> None:
        self.session: scoped_session[Session] = scoped_session(
            self._make_session, scopefunc=self._scope
        )

    @staticmethod
    def _scope() -> int:
        return id(app_ctx._get_current_object()) if app_ctx else 0

    def _make_session(self) -> Session:
        return Session(bind=self.engine, expire_on_commit=False, autoflush=True)

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        app.extensions["icbt.db"] = engine

        @app.teardown_appcontext
        def _remove_session(exc: BaseException | None) -> None:
            if exc is not None:
                self.session.rollback()
            self.session.remove()

    @property
    def engine(self) -> Engine:
        return current_app.extensions["icbt.db"]

    def read_only_session(self) -> Session:
        """A separate session for long reads: on SQLite it never takes the write lock."""
        return Session(bind=self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


class TaskQueue:
    """The Huey instance, whose storage is chosen by configuration at ``init_app``.

    Tasks are declared at import time on ``queue.huey``; the consumer is started by
    ``flask --app wsgi worker`` so that tasks find the app through ``queue.app``.
    """

    def __init__(self) -> None:
        self.huey: Huey = MemoryHuey("icbt", immediate=True)
        self._app: weakref.ref[Flask] | None = None

    def init_app(self, app: Flask) -> None:
        cfg = app.config["HUEY"]
        backend = cfg.get("backend", "sqlite")
        huey = self.huey
        huey.name = cfg.get("name", "icbt")
        if backend == "redis":
            huey.storage_class = RedisStorage
            huey.storage_kwargs = {"url": cfg["url"]}
        elif backend == "sqlite":
            huey.storage_class = SqliteStorage
            huey.storage_kwargs = {"filename": cfg["filename"]}
        elif backend == "memory":
            huey.storage_class = MemoryStorage
            huey.storage_kwargs = {}
        else:
            raise ValueError(f"unknown HUEY backend {backend!r}")
        huey._immediate = bool(cfg.get("immediate", False))
        huey.storage = huey.create_storage()
        self._app = weakref.ref(app)
        app.extensions["icbt.queue"] = self

    @property
    def app(self) -> Flask:
        app = self._app() if self._app else None
        if app is None:
            raise RuntimeError("the task queue is not bound to an app")
        return app


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
queue = TaskQueue()

__all__ = ["db", "login_manager", "csrf", "babel", "queue", "make_engine", "Database", "TaskQueue"]
