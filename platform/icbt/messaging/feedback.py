"""When weekly feedback is due: working days in the trial's time zone (pure functions).

A hand-in's feedback is due by the end of the N-th working day after the local day the
homework was handed in (N = ``trial.settings['feedback_working_days']``, default 1).
Working days are Monday to Friday, minus the trial's optional ``holidays`` (ISO dates).
"End of a day" is local midnight after it, so the due moment moves with daylight saving
time exactly as the clinic's clock does. With N = 0 the feedback is due the same working
day (or the next working day when handed in on a weekend or holiday).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

DEFAULT_FEEDBACK_WORKING_DAYS = 1
SATURDAY = 5


def _holiday_set(holidays: Iterable[dt.date | str] | None) -> frozenset[dt.date]:
    out = set()
    for day in holidays or ():
        out.add(day if isinstance(day, dt.date) else dt.date.fromisoformat(day))
    return frozenset(out)


def is_working_day(day: dt.date, holidays: Iterable[dt.date | str] | None = None) -> bool:
    return day.weekday() < SATURDAY and day not in _holiday_set(holidays)


def add_working_days(day: dt.date, n: int, holidays: Iterable[dt.date | str] | None = None) -> dt.date:
    """The n-th working day after ``day`` (n = 0: ``day`` itself if it is a working day,
    otherwise the next working day)."""
    if n < 0:
        raise ValueError("n must be 0 or more")
    off = _holiday_set(holidays)
    if n == 0:
        while not is_working_day(day, off):
            day += dt.timedelta(days=1)
        return day
    while n:
        day += dt.timedelta(days=1)
        if is_working_day(day, off):
            n -= 1
    return day


def feedback_due_at(
    handed_in_at: dt.datetime,
    working_days: int,
    timezone: str,
    holidays: Iterable[dt.date | str] | None = None,
) -> dt.datetime:
    """The UTC moment feedback on a hand-in at ``handed_in_at`` (aware) becomes overdue."""
    if handed_in_at.tzinfo is None:
        raise ValueError("handed_in_at must be timezone-aware")
    zone = ZoneInfo(timezone)
    local_day = handed_in_at.astimezone(zone).date()
    last_day = add_working_days(local_day, working_days, holidays)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)
    return end.astimezone(dt.timezone.utc)


def is_overdue(
    handed_in_at: dt.datetime,
    now: dt.datetime,
    working_days: int,
    timezone: str,
    holidays: Iterable[dt.date | str] | None = None,
) -> bool:
    return now >= feedback_due_at(handed_in_at, working_days, timezone, holidays)


def trial_feedback_rules(trial) -> tuple[int, str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    """(working days, time zone, holidays) from a trial's settings."""
    days = trial.setting("feedback_working_days", DEFAULT_FEEDBACK_WORKING_DAYS)
    try:
        days = max(0, int(days))
    except (TypeError, ValueError):
        days = DEFAULT_FEEDBACK_WORKING_DAYS
    return days, trial.timezone, tuple(trial.setting("holidays", ()) or ())


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

