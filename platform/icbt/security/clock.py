"""The clock that sessions, throttling and TOTP read. Tests inject one through
``app.config["SECURITY_CLOCK"]`` (a callable returning an aware UTC datetime)."""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from icbt.db import utcnow


def now() -> dt.datetime:
    if has_app_context():
        clock = current_app.config.get("SECURITY_CLOCK")
        if clock is not None:
            return clock()
    return utcnow()


def timestamp() -> int:
    return int(now().timestamp())
