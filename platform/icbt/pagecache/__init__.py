"""Rendered pages kept in memory, keyed by versions of the data they show.

A page view still does everything that must happen on every view: it loads the user and
checks the server-side session, checks role and ownership, and writes its audit line. Only
the rendering (the queries that gather what the page shows, and the template) is skipped
when nothing it shows can have changed since the same user last saw it.

Versions. Every transaction that writes bumps, in the same transaction, a random token per
*scope* it touched (table ``cache_versions``): ``p:<participant id>`` for a participant's
own records, ``t:<therapist user id>`` for every therapist whose caseload holds such a
participant, ``global`` for anything not tied to one participant (trials, users, module
versions, bulk changes without a declared participant). Which scope a row belongs to is
read from the rows flushed (``participant_id``, or one lookup through the conversation,
plan or questionnaire it belongs to); tables no cached page shows are listed in
``IGNORED_TABLES``. A page declares the scopes it shows; its key holds their tokens, so
a page rendered before a write is never served after it, in any worker process. A database
emptied under a running app (tests, a restore) loses the ``epoch`` row: with no epoch
nothing is served from the cache until the next write creates a new random one.

Also in the key: the page's address, the user, the server-side session and its CSRF token
(the page carries forms), the language, and the current minute: what a page shows because
time passed (a questionnaire falling due, feedback becoming overdue) is at most a minute
late. A page with a flashed message is never cached (the flash is shown once).

Memory: a bounded LRU per process (``PAGE_CACHE_ENTRIES``, ``PAGE_CACHE_BYTES``); it holds
what the process has just sent to these same users. ``PAGE_CACHE = False`` turns it off.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, request, session as cookie_session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import BigInteger, Column, String, Table, bindparam, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from icbt import clock
from icbt.db import Base

GLOBAL = "global"
EPOCH = "epoch"

cache_versions: Table = Table(
    "cache_versions", Base.metadata,
    Column("scope", String(48), primary_key=True),
    Column("token", BigInteger, nullable=False),
)

# Tables that no cached page shows (or that the cached views write on every view
# themselves): writing them bumps nothing.
IGNORED_TABLES = frozenset({
    "cache_versions", "audit_events", "user_sessions", "login_throttles", "recovery_codes",
    "second_factors", "report_runs", "therapist_time_days", "therapist_time_corrections",
    "snippets", "instrument_wordings",
})
# Tables whose rows reach their participant through a parent row: (parent table, column).
_VIA: dict[str, tuple[str, str]] = {
    "messages": ("conversations", "conversation_id"),
    "message_drafts": ("conversations", "conversation_id"),
    "plan_items": ("module_plans", "plan_id"),
    "plan_changes": ("module_plans", "plan_id"),
    "administration_answers": ("administrations", "administration_id"),
}
# User columns no cached page shows: a login changes them.
_QUIET_USER_COLUMNS = frozenset({"last_login_at"})
_INFO = "icbt.pagecache.touched"


def participant_scope(participant_id: int) -> str:
    return f"p:{participant_id}"


def therapist_scope(user_id: int) -> str:
    return f"t:{user_id}"


# ---------------------------------------------------------------- the store


class PageStore:
    """A bounded LRU of rendered pages (thread-safe: the development server is threaded)."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 2**20) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[tuple, tuple[str, dict[str, Any]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple, value: tuple[str, dict[str, Any]]) -> None:
        size = len(value[0])
        if size > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._entries[key] = value
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped[0])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def init_app(app: Any) -> None:
    app.config.setdefault("PAGE_CACHE", True)
    app.extensions["icbt.pagecache"] = PageStore(
        int(app.config.get("PAGE_CACHE_ENTRIES", 512)), int(app.config.get("PAGE_CACHE_BYTES", 64 * 2**20)))


def store() -> PageStore:
    return current_app.extensions["icbt.pagecache"]


# ---------------------------------------------------------------- reading: a page


_VERSIONS = (select(cache_versions.c.scope, cache_versions.c.token)
             .where(cache_versions.c.scope.in_(bindparam("scopes", expanding=True))))


def versions(session: Session, scopes: Iterable[str]) -> dict[str, int]:
    """The tokens of ``scopes`` (and of the epoch and the global scope), in one query on the
    session's connection (a Core statement: no ORM work)."""
    wanted = sorted({EPOCH, GLOBAL, *scopes})
    return {scope: token for scope, token in session.connection().execute(_VERSIONS, {"scopes": wanted})}


def _key(scopes: list[str], found: dict[str, int]) -> tuple:
    from icbt.auth.session import SID

    def digest(value: Any) -> str:
        return hashlib.sha256(str(value).encode()).hexdigest()[:32] if value else ""

    return (
        request.endpoint, request.full_path, current_user.get_id(),
        digest(cookie_session.get(SID)), digest(cookie_session.get("csrf_token")),
        str(request.accept_languages), clock.timestamp() // 60,
        found[EPOCH], found.get(GLOBAL, 0), tuple((s, found.get(s, 0)) for s in sorted(set(scopes))),
    )


def page(session: Session, scopes: list[str], build: Callable[[], tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """The page ``build()`` renders (its HTML and any facts the view needs besides, e.g. a
    count for the audit line), from the cache when no scope it shows has changed."""
    if (not current_app.config.get("PAGE_CACHE") or request.method != "GET"
            or cookie_session.get("_flashes") or not current_user.is_authenticated):
        return build()
    found = versions(session, scopes)
    if EPOCH not in found:
        return build()
    generate_csrf()  # every logged-in page carries a form: its session token exists before the key
    key = _key(scopes, found)
    cached = store().get(key)
    if cached is not None:
        return cached
    value = build()
    if not cookie_session.get("_flashes"):  # built without a flash (shown once, never kept)
        store().put(key, value)
    return value


# ---------------------------------------------------------------- writing: bump the scopes


def _touched(session: Session) -> set[Any]:
    return session.info.setdefault(_INFO, set())


def _after_flush(session: Session, _context: Any) -> None:
    touched = _touched(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None or table in IGNORED_TABLES:
            continue
        if table == "participants":
            touched.add(participant_scope(obj.id))
            history = inspect(obj).attrs.therapist_id.history
            for therapist_id in (*history.added, *history.deleted, *history.unchanged):
                if therapist_id:
                    touched.add(therapist_scope(therapist_id))
        elif table == "users":
            state = inspect(obj)
            changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
            if obj in session.new or obj in session.deleted or changed - _QUIET_USER_COLUMNS:
                touched.add(GLOBAL)
        elif getattr(obj, "participant_id", None):
            touched.add(participant_scope(obj.participant_id))
        elif table in _VIA:
            parent, column = _VIA[table]
            value = getattr(obj, column, None)
            touched.add((parent, value) if value else GLOBAL)
        else:
            touched.add(GLOBAL)


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in IGNORED_TABLES:
        return
    declared = state.execution_options.get("pagecache_participants")
    touched = _touched(state.session)
    if declared:
        touched.update(participant_scope(pid) for pid in declared)
    else:
        touched.add(GLOBAL)


_HAS_TABLE: dict[int, bool] = {}


def _has_table(session: Session) -> bool:
    engine = session.get_bind()
    key = id(engine)
    if not _HAS_TABLE.get(key):
        _HAS_TABLE[key] = inspect(session.connection()).has_table("cache_versions")
    return _HAS_TABLE[key]
# Touched scopes of a transaction that rolls back stay in ``session.info`` until the session
# is closed (every request's is) or commits later: a scope bumped once too often costs one
# render; one never bumped would serve a stale page.


def _resolve(session: Session, touched: set[Any]) -> set[str]:
    """Scopes for the rows touched: parents looked up, therapists added."""
    from icbt.trials.models import Participant

    scopes = {s for s in touched if isinstance(s, str)}
    by_parent: dict[str, set[int]] = {}
    for item in touched:
        if isinstance(item, tuple):
            by_parent.setdefault(item[0], set()).add(item[1])
    tables = Base.metadata.tables
    for parent, ids in by_parent.items():
        t = tables[parent]
        for pid in session.scalars(select(t.c.participant_id).where(t.c.id.in_(sorted(ids)))):
            scopes.add(participant_scope(pid))
    pids = sorted(int(s[2:]) for s in scopes if s.startswith("p:"))
    if pids:
        for therapist_id in session.scalars(select(Participant.therapist_id).distinct()
                                            .where(Participant.id.in_(pids), Participant.therapist_id.is_not(None))):
            scopes.add(therapist_scope(therapist_id))
    return scopes


def _upsert(session: Session, rows: list[dict[str, Any]], *, replace: bool) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(cache_versions).values(rows)
    if replace:
        stmt = stmt.on_conflict_do_update(index_elements=["scope"], set_={"token": stmt.excluded.token})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["scope"])
    session.execute(stmt)


# Tokens are random, not counters: a page rendered inside a transaction that bumped a scope
# and then rolled back is kept under a token no database will ever hold again, where a
# counter would hand the same number to the next writer and serve that page as current.
# ``before_commit`` also runs when a savepoint (``begin_nested``) is released: the scopes
# are bumped in the enclosing transaction then, before the page reads its versions.
def _before_commit(session: Session) -> None:
    session.flush()  # the last changes, so that _after_flush has seen them
    touched = session.info.pop(_INFO, None)
    if not touched or not _has_table(session):
        return
    scopes = sorted(_resolve(session, touched))  # sorted: concurrent bumps lock rows in one order
    _upsert(session, [{"scope": s, "token": secrets.randbits(62)} for s in scopes], replace=True)
    _upsert(session, [{"scope": EPOCH, "token": secrets.randbits(62)}], replace=False)


def listen() -> None:
    """Install the write hooks on every ORM session (once per process)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_commit", _before_commit)


listen()

__all__ = ["page", "participant_scope", "therapist_scope", "GLOBAL", "IGNORED_TABLES",
           "cache_versions", "PageStore", "init_app", "versions"]
