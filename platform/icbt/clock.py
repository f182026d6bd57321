"""The one place the platform asks what time it is: ``now()`` and ``today(tz)``.

Every part that decides something from the current time (which week a patient is in,
whether a questionnaire is due, when a draft was saved) calls these instead of
``datetime.now()`` / ``date.today()``, so that tests and the browser journeys can set the
clock.

The override, honoured only by the development and test configurations (production
refuses to start when it is set, see config.py):

``FAKE_NOW`` (env ``ICBT_FAKE_NOW``)
    A fixed instant: ISO 8601 with an offset (``2026-03-02T09:00:00+01:00``, ``...Z``);
    a naive value is read as UTC; a bare date (``2026-03-02``) means 12:00 UTC that day,
    which is the same calendar date in every trial time zone within +-12 hours. In-process
    tests may also put a timezone-aware ``datetime`` into ``app.config["FAKE_NOW"]``, or a
    callable returning one (a clock the test moves, e.g. the ``clock`` fixture in
    tests/security/conftest.py).
``FAKE_NOW_FILE`` (env ``ICBT_FAKE_NOW_FILE``)
    A file holding such a value, read again whenever it changes, so that a test can move
    the clock of a running server (all its worker processes) between two requests:
    ``write_fake_now(path, value)``. An empty or missing file means the real clock.
    It wins over ``FAKE_NOW``.

Outside an app context (scripts, pure functions under test) the real clock is used.
Pure functions should still take the date as an argument rather than call ``today()``.

This is the only clock: model defaults (``icbt.db.utcnow``), services (their ``now=``/
``at=`` defaults), views, the security checks (sessions, throttling, TOTP steps) and the
background worker (its tasks run in an app context, so it honours ``FAKE_NOW_FILE`` too) all
read it. Nothing else calls ``datetime.now()`` or ``date.today()``.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

UTC = dt.timezone.utc

# path -> ((inode, mtime_ns, size), parsed value); one stat per call while a file is set.
_file_cache: dict[str, tuple[tuple[int, int, int], dt.datetime | None]] = {}


def parse_fake_now(value: str | dt.datetime | dt.date) -> dt.datetime:
    """The instant a ``FAKE_NOW`` value names, timezone-aware in UTC (ValueError if unreadable)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(12, 0), tzinfo=UTC)
    else:
        text = value.strip()
        if not text:
            raise ValueError("empty clock override")
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(12, 0), tzinfo=UTC)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _from_file(path: str) -> dt.datetime | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _file_cache.get(path)
    if cached and cached[0] == key:
        return cached[1]
    text = Path(path).read_text(encoding="utf-8").strip()
    value = parse_fake_now(text) if text else None
    _file_cache[path] = (key, value)
    return value


def fake_now() -> dt.datetime | None:
    """The overriding instant of the current app, or None when the real clock applies."""
    if not has_app_context():
        return None
    config = current_app.config
    if config.get("NAME") == "production":
        return None
    path = config.get("FAKE_NOW_FILE")
    if path:
        value = _from_file(str(path))
        if value is not None:
            return value
    raw = config.get("FAKE_NOW")
    if callable(raw):
        raw = raw()
    return parse_fake_now(raw) if raw else None


def now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC (or the test's instant)."""
    return fake_now() or dt.datetime.now(UTC)


def today(tz: str | dt.tzinfo | None = None) -> dt.date:
    """Today's date in ``tz`` (a zone name such as a trial's ``timezone``, or a tzinfo; UTC if None)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else (tz or UTC)
    return now().astimezone(zone).date()


def timestamp() -> int:
    """The current instant in whole seconds since the epoch (session cookies, TOTP steps)."""
    return int(now().timestamp())


def write_fake_now(path: str | os.PathLike[str], value: str | dt.datetime | dt.date | None) -> None:
    """Set (or with None clear) the clock of servers reading ``path`` as ``FAKE_NOW_FILE``.

    Written atomically (temporary file and rename) so that a worker never reads half a value.
    """
    target = Path(path)
    text = "" if value is None else parse_fake_now(value).isoformat()
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)
