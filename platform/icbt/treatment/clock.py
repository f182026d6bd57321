"""The time the treatment pages use: the real clock, or one a test or demo sets.

Set ``app.config["CLOCK"]`` to a callable returning a timezone-aware datetime to freeze or
move time (tests, browser journeys); otherwise it is now, in UTC.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from icbt.db import utcnow
from icbt.treatment.schedule import local_date


def now() -> dt.datetime:
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    value = clock() if clock else utcnow()
    if value.tzinfo is None:
        raise ValueError("CLOCK must return a timezone-aware datetime")
    return value


def trial_today(timezone: str, at: dt.datetime | None = None) -> dt.date:
    """Today's date in the trial's time zone."""
    return local_date(at or now(), timezone)
