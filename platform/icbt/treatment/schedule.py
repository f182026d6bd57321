"""Treatment weeks, counted in the trial's time zone. Pure functions of dates.

Week 1 starts on the start date; week n on start + 7(n-1) days. The module at position n
of a plan unlocks on the first day of week n. "Today" is the calendar date in the trial's
time zone, so a module unlocks at local midnight, not at midnight UTC.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_date(now: dt.datetime, timezone: str) -> dt.date:
    """The calendar date in ``timezone`` at the instant ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(timezone)).date()


def treatment_week(start_date: dt.date | None, today: dt.date) -> int:
    """1 on the start date and the six days after, 2 the week after...; 0 before the start."""
    if start_date is None or today < start_date:
        return 0
    return (today - start_date).days // 7 + 1


def unlocked_weeks(start_date: dt.date | None, today: dt.date, n_modules: int | None = None) -> int:
    """How many modules are open by date (at most ``n_modules``)."""
    week = treatment_week(start_date, today)
    return week if n_modules is None else min(week, n_modules)


def unlock_date(start_date: dt.date, position: int) -> dt.date:
    """The date the module at ``position`` (1-based) opens."""
    if position < 1:
        raise ValueError("positions start at 1")
    return start_date + dt.timedelta(days=7 * (position - 1))


def end_date(start_date: dt.date, weeks: int) -> dt.date:
    """The last day of the last treatment week."""
    return start_date + dt.timedelta(days=7 * weeks - 1)
