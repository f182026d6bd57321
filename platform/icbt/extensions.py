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
from sqlalchemy.orm import Session, scoped_session


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_TX = "icbt.sqlite_read_tx"


def in_page_view() -> bool:
    """Whether the current request only reads by method (GET, HEAD, OPTIONS)."""
    from flask import has_request_context, request

    return has_request_context() and request.method in SAFE_METHODS


def _sqlite_begin(connection: Any) -> None:
    # A request that may write (POST...) begins with BEGIN IMMEDIATE: it takes the write lock
    # at the start, so a transaction that reads and then writes waits (busy timeout) instead
    # of failing with "database is locked" when another process wrote in between. A page
    # view (GET) begins DEFERRED: it reads without the write lock, beside other readers and
    # one writer (WAL). Should it write after all (a page-read mark, a read receipt, an
    # audit line: the writes a GET may do), ``_sqlite_write_lock_before_write`` first ends
    # its read and re-begins IMMEDIATE. Long read-only work (reports, exports) asks for
    # DEFERRED explicitly (``read_only_session``) and never writes.
    mode = connection.get_execution_options().get("sqlite_begin")
    if mode is None:
        mode = "DEFERRED" if in_page_view() else "IMMEDIATE"
        connection.info[_READ_TX] = mode == "DEFERRED"
    else:
        connection.info[_READ_TX] = False
    connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


_NOT_WRITES = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "END", "ROLLBACK")


def _is_read(statement: str) -> bool:
    words = statement.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in _NOT_WRITES


def _sqlite_write_lock_before_write(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    # The first write of a page view's deferred transaction: SQLite cannot upgrade a read
    # whose snapshot another writer has since moved past (it fails at once with "database
    # is locked"), so end the read and begin again with the write lock (waiting for it).
    # The write is then its own transaction after the page's reads, as if the view had
    # committed them first; every write a GET may do stands on its own (unique keys guard
    # the inserts, updates set only the columns they change).
    if conn.info.get(_READ_TX) and not _is_read(statement):
        conn.info[_READ_TX] = False
        raw = cursor.connection
        raw.execute("COMMIT")
        raw.execute("BEGIN IMMEDIATE")


def _sqlite_end(connection: Any) -> None:
    connection.info[_READ_TX] = False


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings the platform relies on (SQLite: WAL, FKs, busy timeout)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 15})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_write_lock_before_write)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
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
