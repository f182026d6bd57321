"""When weekly feedback is due: working days, weekends, holidays, daylight saving time.

Expected values are worked out by hand from a calendar: 2026-10-23 is a Friday; Europe/
Stockholm leaves summer time (UTC+2) for winter time (UTC+1) on Sunday 2026-10-25 and
returns on Sunday 2026-03-29."""
from __future__ import annotations

import datetime as dt

import pytest

from icbt.messaging.feedback import add_working_days, feedback_due_at, is_overdue, is_working_day

UTC = dt.timezone.utc
STHLM = "Europe/Stockholm"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (dt.date(2026, 10, 19), 1, dt.date(2026, 10, 20)),  # Mon -> Tue
        (dt.date(2026, 10, 22), 1, dt.date(2026, 10, 23)),  # Thu -> Fri
        (dt.date(2026, 10, 23), 1, dt.date(2026, 10, 26)),  # Fri -> Mon
        (dt.date(2026, 10, 24), 1, dt.date(2026, 10, 26)),  # Sat -> Mon
        (dt.date(2026, 10, 25), 1, dt.date(2026, 10, 26)),  # Sun -> Mon
        (dt.date(2026, 10, 23), 2, dt.date(2026, 10, 27)),  # Fri -> Tue
        (dt.date(2026, 10, 21), 3, dt.date(2026, 10, 26)),  # Wed -> Thu, Fri, Mon
        (dt.date(2026, 10, 19), 5, dt.date(2026, 10, 26)),  # a whole week
        (dt.date(2026, 10, 21), 0, dt.date(2026, 10, 21)),  # same working day
        (dt.date(2026, 10, 24), 0, dt.date(2026, 10, 26)),  # weekend -> Monday
    ],
)
def test_add_working_days_skips_weekends(start: dt.date, n: int, expected: dt.date) -> None:
    assert add_working_days(start, n) == expected


def test_holidays_are_not_working_days() -> None:
    # Friday 2026-12-25 and Monday 2026-12-28 off: Thursday + 1 -> Tuesday 29th.
    holidays = ["2026-12-25", dt.date(2026, 12, 28)]
    assert not is_working_day(dt.date(2026, 12, 25), holidays)
    assert add_working_days(dt.date(2026, 12, 24), 1, holidays) == dt.date(2026, 12, 29)


def test_due_at_end_of_next_working_day_in_local_time() -> None:
    # Handed in Tuesday 2026-06-09 10:00 local (08:00 UTC, summer time): due by the end of
    # Wednesday local, i.e. Thursday 00:00 local = Wednesday 22:00 UTC.
    assert feedback_due_at(utc(2026, 6, 9, 8, 0), 1, STHLM) == utc(2026, 6, 10, 22, 0)


def test_local_day_decides_not_the_utc_day() -> None:
    # Sunday 2026-06-14 22:30 UTC is already Monday 00:30 in Stockholm: the hand-in day is
    # Monday, so feedback is due by the end of Tuesday (by the UTC day it would be Monday).
    assert feedback_due_at(utc(2026, 6, 14, 22, 30), 1, STHLM) == utc(2026, 6, 16, 22, 0)
    # Thursday 21:30 UTC is still Thursday 23:30 local: due by the end of Friday.
    assert feedback_due_at(utc(2026, 6, 11, 21, 30), 1, STHLM) == utc(2026, 6, 12, 22, 0)
    # Thursday 22:30 UTC is Friday 00:30 local: due by the end of Monday.
    assert feedback_due_at(utc(2026, 6, 11, 22, 30), 1, STHLM) == utc(2026, 6, 15, 22, 0)


def test_due_across_the_autumn_clock_change() -> None:
    # Handed in Friday 2026-10-23 15:00 local (13:00 UTC, summer time). Next working day is
    # Monday 26th, after the change to winter time: due Tuesday 00:00 CET = Monday 23:00 UTC.
    assert feedback_due_at(utc(2026, 10, 23, 13, 0), 1, STHLM) == utc(2026, 10, 26, 23, 0)


def test_due_across_the_spring_clock_change() -> None:
    # Friday 2026-03-27 15:00 CET (14:00 UTC); due end of Monday 30th in summer time:
    # Tuesday 00:00 CEST = Monday 22:00 UTC.
    assert feedback_due_at(utc(2026, 3, 27, 14, 0), 1, STHLM) == utc(2026, 3, 30, 22, 0)


def test_other_time_zones_and_more_days() -> None:
    # New York, Friday 2026-11-06 16:00 EST (21:00 UTC), 2 working days -> end of Tuesday
    # 10th local = Wednesday 00:00 EST = Wednesday 05:00 UTC.
    assert feedback_due_at(utc(2026, 11, 6, 21, 0), 2, "America/New_York") == utc(2026, 11, 11, 5, 0)


def test_overdue_flips_exactly_at_the_due_moment() -> None:
    handed_in = utc(2026, 10, 23, 13, 0)
    due = utc(2026, 10, 26, 23, 0)
    assert not is_overdue(handed_in, due - dt.timedelta(seconds=1), 1, STHLM)
    assert is_overdue(handed_in, due, 1, STHLM)
    # Over the weekend nothing is overdue yet.
    assert not is_overdue(handed_in, utc(2026, 10, 25, 20, 0), 1, STHLM)


def test_naive_and_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        feedback_due_at(dt.datetime(2026, 1, 1, 12, 0), 1, STHLM)
    with pytest.raises(ValueError):
        add_working_days(dt.date(2026, 1, 1), -1)
