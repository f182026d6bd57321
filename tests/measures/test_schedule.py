"""The schedule as pure functions, across time and time zones (no clock, no database)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from icbt.measures.schedule import (
    ScheduleError,
    accepts_answers,
    plan_administrations,
    window_status,
)

UTC = dt.timezone.utc
STOCKHOLM = ZoneInfo("Europe/Stockholm")
INTAKE = dt.datetime(2026, 2, 10, 13, 5, tzinfo=UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def plan(arm, start=dt.date(2026, 3, 2), **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("weeks", 10)
    kwargs.setdefault("timezone", "Europe/Stockholm")
    return {(p.instrument_id, p.timepoint): p for p in plan_administrations(
        arm=arm, intake_at=INTAKE, start_date=start, **kwargs)}


def test_treatment_arm_schedule_in_the_trial_time_zone() -> None:
    p = plan("treatment")
    assert set(p) == {("gad-7", "screening"), ("phq-9", "screening"), ("core-om", "pre"),
                      ("expected-alliance", "pre"), ("wai-s", "week3"), ("core-om", "post")}
    # Screening opens at intake and stays open to the end of the 14th day after it (local).
    assert p[("gad-7", "screening")].opens_at == INTAKE
    assert p[("gad-7", "screening")].closes_at == utc(2026, 2, 24, 23, 0)  # 2026-02-25 00:00 CET
    # Pre: the week before the start date (Monday 2 March), closing at its local midnight (CET = UTC+1).
    assert (p[("core-om", "pre")].opens_at, p[("core-om", "pre")].closes_at) == (utc(2026, 2, 22, 23), utc(2026, 3, 1, 23))
    assert p[("expected-alliance", "pre")].closes_at == p[("core-om", "pre")].closes_at
    # Week 3: opens on day 21 of treatment (day 1 = 2 March, so 22 March), open 7 days.
    week3 = p[("wai-s", "week3")]
    assert week3.opens_at.astimezone(STOCKHOLM) == dt.datetime(2026, 3, 22, 0, 0, tzinfo=STOCKHOLM)
    assert week3.closes_at.astimezone(STOCKHOLM) == dt.datetime(2026, 3, 29, 0, 0, tzinfo=STOCKHOLM)
    # Post: the day after the 10 treatment weeks (day 71 = 11 May, summer time: UTC+2), 14 days.
    post = p[("core-om", "post")]
    assert (post.opens_at, post.closes_at) == (utc(2026, 5, 10, 22), utc(2026, 5, 24, 22))


def test_windows_follow_local_midnight_across_the_dst_change() -> None:
    # Start 9 March: week-3 window 29 March (clocks go forward that night) to 5 April.
    week3 = plan("treatment", start=dt.date(2026, 3, 9))[("wai-s", "week3")]
    assert week3.opens_at == utc(2026, 3, 28, 23)  # 00:00 CET
    assert week3.closes_at == utc(2026, 4, 4, 22)  # 00:00 CEST
    assert week3.closes_at - week3.opens_at == dt.timedelta(days=7, hours=-1)


def test_waiting_list_gets_core_om_at_the_same_calendar_points() -> None:
    treatment, waitlist = plan("treatment"), plan("waitlist")
    assert set(waitlist) == {("gad-7", "screening"), ("phq-9", "screening"), ("core-om", "pre"), ("core-om", "post")}
    for key in (("core-om", "pre"), ("core-om", "post")):
        assert waitlist[key] == treatment[key]


def test_before_randomisation_only_screening_is_planned() -> None:
    assert set(plan(None)) == {("gad-7", "screening"), ("phq-9", "screening")}
    assert set(plan("treatment", start=None)) == {("gad-7", "screening"), ("phq-9", "screening")}


def test_trial_settings_change_windows_and_instruments_without_code() -> None:
    settings = {
        "measurement_windows": {"week3_days": 10, "week3_day": 22},
        "measurement_schedule": [
            {"timepoint": "pre", "instruments": ["core-om"], "arms": ["treatment", "waitlist"]},
            {"timepoint": "week3", "instruments": ["wai-sr"], "arms": ["treatment"]},
        ],
    }
    p = plan("treatment", settings=settings)
    assert set(p) == {("core-om", "pre"), ("wai-sr", "week3")}
    week3 = p[("wai-sr", "week3")]
    assert week3.opens_at.astimezone(STOCKHOLM).date() == dt.date(2026, 3, 23)
    assert week3.closes_at.astimezone(STOCKHOLM).date() == dt.date(2026, 4, 2)


def test_another_time_zone_moves_the_utc_moments() -> None:
    ny = plan("treatment", timezone="America/New_York")[("core-om", "pre")]
    assert ny.closes_at == utc(2026, 3, 2, 5)  # 00:00 EST = 05:00 UTC


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"measurement_windows": {"week3_days": 0}}, "week3_days must be 1 or more"),
        ({"measurement_windows": {"week3_days": "7"}}, "whole number"),
        ({"measurement_windows": {"tomorrow": 1}}, "not a known window"),
        ({"measurement_schedule": [{"timepoint": "week4", "instruments": ["wai-s"]}]}, "timepoint must be one of"),
        ({"measurement_schedule": [{"timepoint": "pre", "instruments": "core-om"}]}, "instruments must be a list"),
        ({"measurement_schedule": [{"timepoint": "pre", "instruments": ["core-om"], "arms": ["control"]}]}, "arms"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(settings: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        plan("treatment", settings=settings)


def test_window_status_through_time() -> None:
    opens, closes = utc(2026, 3, 21, 23), utc(2026, 3, 28, 23)
    second = dt.timedelta(seconds=1)
    assert window_status(opens, closes, opens - second) == "scheduled"
    assert window_status(opens, closes, opens) == "open"
    assert window_status(opens, closes, closes - second) == "open"
    assert window_status(opens, closes, closes) == "missed"
    assert window_status(opens, closes, closes + dt.timedelta(days=30)) == "missed"
    assert window_status(opens, closes, closes, submitted_at=closes - second) == "submitted"
    assert window_status(opens, closes, closes, submitted_at=closes) == "late"


def test_answers_are_accepted_until_the_grace_period_ends() -> None:
    opens, closes = utc(2026, 3, 21, 23), utc(2026, 3, 28, 23)
    assert not accepts_answers(opens, closes, opens - dt.timedelta(seconds=1), 14)
    assert accepts_answers(opens, closes, opens, 14)
    assert accepts_answers(opens, closes, closes + dt.timedelta(days=14) - dt.timedelta(seconds=1), 14)
    assert not accepts_answers(opens, closes, closes + dt.timedelta(days=14), 14)
    assert not accepts_answers(opens, closes, closes, 0)
