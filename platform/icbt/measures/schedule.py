"""The measurement schedule as pure functions: dates in, planned administrations out.

Days, weeks and windows are counted in the trial's time zone (a window opens at local
midnight) and returned as UTC datetimes. Day 1 of treatment is the start date, so "day 21"
(week 3 measure) opens at local midnight of ``start_date + 20 days``.

The default plan (``DEFAULT_SCHEDULE``) follows DESIGN.md, "Measurement"; a trial changes it
with ``trial.settings["measurement_schedule"]`` (same shape) and the windows with
``trial.settings["measurement_windows"]`` (days), with no code change:

=========  ==========================  ==================  ======================================
timepoint  instruments                 arms                window (default)
=========  ==========================  ==================  ======================================
screening  gad-7, phq-9                everyone at intake  intake .. intake + 14 days
pre        core-om                     treatment, waitlist start - 7 days .. start date
pre        expected-alliance           treatment           start - 7 days .. start date
week3      wai-s                       treatment           day 21 .. day 21 + 7 days (configurable)
post       core-om                     treatment, waitlist start + weeks*7 days .. + 14 days
=========  ==========================  ==================  ======================================

The waiting-list arm has the same calendar points: its ``start_date`` is the date its
waiting period starts, so pre and post fall on the same dates as for a treatment participant
who started that day.

Status of a window (``window_status``): ``scheduled`` before it opens, ``open`` inside it,
``missed`` after it closed without an answer (an answer can still come within the grace
period, ``late_grace_days``, and is then ``late``), ``submitted`` when answered in time.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

TIMEPOINTS = ("screening", "pre", "week3", "post")
STATUSES = ("scheduled", "open", "submitted", "late", "missed")

DEFAULT_WINDOWS = {
    "screening_days": 14,  # screening stays open this long after intake
    "pre_days": 7,  # pre opens this many days before the start date and closes at it
    "week3_day": 21,  # day of treatment on which the week-3 measure opens (day 1 = start date)
    "week3_days": 7,  # how long the week-3 window stays open
    "post_days": 14,  # post window length, opening the day after the last treatment week
    "late_grace_days": 14,  # after a window closes, an answer is still accepted (as late) this long
    "reminder_after_days": 3,  # remind once when still unanswered this many days after opening
}

DEFAULT_SCHEDULE: tuple[dict[str, Any], ...] = (
    {"timepoint": "screening", "instruments": ["gad-7", "phq-9"], "arms": ["any"]},
    {"timepoint": "pre", "instruments": ["core-om"], "arms": ["treatment", "waitlist"]},
    {"timepoint": "pre", "instruments": ["expected-alliance"], "arms": ["treatment"]},
    {"timepoint": "week3", "instruments": ["wai-s"], "arms": ["treatment"]},
    {"timepoint": "post", "instruments": ["core-om"], "arms": ["treatment", "waitlist"]},
)


class ScheduleError(ValueError):
    """A trial's schedule settings that cannot be used (the message names the setting)."""


@dataclass(frozen=True)
class PlannedAdministration:
    instrument_id: str
    timepoint: str
    opens_at: dt.datetime  # UTC
    closes_at: dt.datetime  # UTC


def windows_from_settings(settings: Mapping[str, Any] | None) -> dict[str, int]:
    windows = dict(DEFAULT_WINDOWS)
    given = (settings or {}).get("measurement_windows") or {}
    if not isinstance(given, Mapping):
        raise ScheduleError("measurement_windows must be a mapping of names to days")
    for key, value in given.items():
        if key not in DEFAULT_WINDOWS:
            raise ScheduleError(f"measurement_windows.{key} is not a known window ({', '.join(DEFAULT_WINDOWS)})")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
            raise ScheduleError(f"measurement_windows.{key} must be a whole number of days (0-365)")
        windows[key] = value
    if windows["week3_day"] < 1:
        raise ScheduleError("measurement_windows.week3_day must be 1 or more")
    for key in ("screening_days", "pre_days", "week3_days", "post_days"):
        if windows[key] < 1:
            raise ScheduleError(f"measurement_windows.{key} must be 1 or more")
    return windows


def schedule_from_settings(settings: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    given = (settings or {}).get("measurement_schedule")
    entries = list(DEFAULT_SCHEDULE) if given is None else given
    if not isinstance(entries, list):
        raise ScheduleError("measurement_schedule must be a list")
    checked = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ScheduleError(f"measurement_schedule[{n}] must be a mapping")
        if entry.get("timepoint") not in TIMEPOINTS:
            raise ScheduleError(f"measurement_schedule[{n}].timepoint must be one of {', '.join(TIMEPOINTS)}")
        instruments = entry.get("instruments")
        if not isinstance(instruments, list) or not instruments or not all(isinstance(i, str) for i in instruments):
            raise ScheduleError(f"measurement_schedule[{n}].instruments must be a list of instrument ids")
        arms = entry.get("arms", ["any"])
        if not isinstance(arms, list) or not all(a in ("any", "treatment", "waitlist") for a in arms):
            raise ScheduleError(f"measurement_schedule[{n}].arms must list any, treatment or waitlist")
        checked.append({"timepoint": entry["timepoint"], "instruments": list(instruments), "arms": list(arms)})
    return checked


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Local midnight of ``day`` in ``tz``, as UTC (DST-safe: built in local time, converted)."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz).astimezone(dt.timezone.utc)


def local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware moment")
    return moment.astimezone(tz).date()


def plan_administrations(
    *,
    arm: str | None,
    intake_at: dt.datetime,
    start_date: dt.date | None,
    weeks: int,
    timezone: str,
    settings: Mapping[str, Any] | None = None,
) -> list[PlannedAdministration]:
    """Every administration a participant should have, in time order.

    Screening only needs the intake moment; the rest needs an arm and a start date (before
    randomisation there is nothing else to plan)."""
    tz = ZoneInfo(timezone)
    windows = windows_from_settings(settings)
    schedule = schedule_from_settings(settings)
    planned: list[PlannedAdministration] = []
    for entry in schedule:
        if entry["timepoint"] != "screening":
            if arm is None or start_date is None:
                continue
            if "any" not in entry["arms"] and arm not in entry["arms"]:
                continue
        elif arm is not None and "any" not in entry["arms"] and arm not in entry["arms"]:
            continue
        opens, closes = _window(entry["timepoint"], intake_at, start_date, weeks, tz, windows)
        for instrument_id in entry["instruments"]:
            planned.append(PlannedAdministration(instrument_id, entry["timepoint"], opens, closes))
    order = {t: i for i, t in enumerate(TIMEPOINTS)}
    planned.sort(key=lambda p: (p.opens_at, order[p.timepoint], p.instrument_id))
    return planned


def _window(timepoint: str, intake_at: dt.datetime, start_date: dt.date | None, weeks: int,
            tz: ZoneInfo, windows: Mapping[str, int]) -> tuple[dt.datetime, dt.datetime]:
    if timepoint == "screening":
        opens = intake_at.astimezone(dt.timezone.utc)
        closes = local_midnight(local_date(intake_at, tz) + dt.timedelta(days=windows["screening_days"] + 1), tz)
        return opens, closes
    assert start_date is not None
    if timepoint == "pre":
        return (local_midnight(start_date - dt.timedelta(days=windows["pre_days"]), tz), local_midnight(start_date, tz))
    if timepoint == "week3":
        first = start_date + dt.timedelta(days=windows["week3_day"] - 1)
        return local_midnight(first, tz), local_midnight(first + dt.timedelta(days=windows["week3_days"]), tz)
    if timepoint == "post":
        first = start_date + dt.timedelta(days=7 * weeks)  # the day after the last treatment day
        return local_midnight(first, tz), local_midnight(first + dt.timedelta(days=windows["post_days"]), tz)
    raise ScheduleError(f"unknown timepoint {timepoint!r}")


def waitlist_start(randomised_on: dt.date, settings: Mapping[str, Any] | None = None) -> dt.date:
    """The day a waiting-list participant's waiting period starts (its ``start_date``):
    ``pre_days`` after randomisation, so that the pre window [start - pre_days, start) opens
    on the day of randomisation, as it does for a treatment participant whose therapist sets
    the start date a week ahead."""
    return randomised_on + dt.timedelta(days=windows_from_settings(settings)["pre_days"])


def window_status(
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    now: dt.datetime,
    submitted_at: dt.datetime | None = None,
) -> str:
    """The status of one administration at ``now`` (half-open window: [opens_at, closes_at))."""
    if submitted_at is not None:
        return "submitted" if submitted_at < closes_at else "late"
    if now < opens_at:
        return "scheduled"
    if now < closes_at:
        return "open"
    return "missed"


def accepts_answers(opens_at: dt.datetime, closes_at: dt.datetime, now: dt.datetime, late_grace_days: int) -> bool:
    """Whether a patient may still answer at ``now``: from opening until the grace period ends."""
    return opens_at <= now < closes_at + dt.timedelta(days=late_grace_days)


def due_by(planned: Sequence[PlannedAdministration], now: dt.datetime) -> list[PlannedAdministration]:
    """The planned administrations whose window is open at ``now``."""
    return [p for p in planned if p.opens_at <= now < p.closes_at]
