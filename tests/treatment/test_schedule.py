"""Unlocking by date: week arithmetic (pure) and the trial's time zone at the day boundary,
through the patient's pages with an injected clock."""
from __future__ import annotations

import datetime as dt

import pytest

from icbt.treatment.schedule import end_date, local_date, treatment_week, unlock_date, unlocked_weeks

START = dt.date(2026, 3, 2)  # a Monday


@pytest.mark.parametrize(
    ("today", "week"),
    [(START - dt.timedelta(days=1), 0), (START, 1), (START + dt.timedelta(days=6), 1), (START + dt.timedelta(days=7), 2),
     (START + dt.timedelta(days=69), 10), (START + dt.timedelta(days=70), 11)],
)
def test_treatment_week(today: dt.date, week: int) -> None:
    assert treatment_week(START, today) == week
    assert unlocked_weeks(START, today) == week


def test_unlocked_weeks_stop_at_the_number_of_modules() -> None:
    assert unlocked_weeks(START, START + dt.timedelta(days=200), 8) == 8
    assert unlocked_weeks(None, START) == 0


def test_each_module_unlocks_seven_days_after_the_one_before() -> None:
    dates = [unlock_date(START, n) for n in range(1, 11)]
    assert dates[0] == START
    assert all((b - a).days == 7 for a, b in zip(dates, dates[1:]))
    for n, day in enumerate(dates, start=1):
        assert unlocked_weeks(START, day) == n
        assert unlocked_weeks(START, day - dt.timedelta(days=1)) == n - 1
    assert end_date(START, 10) == dt.date(2026, 5, 10)
    with pytest.raises(ValueError):
        unlock_date(START, 0)


def test_local_date_uses_the_trial_time_zone() -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Stockholm (UTC+1 in winter).
    instant = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone.utc)
    assert local_date(instant, "Europe/Stockholm") == dt.date(2026, 3, 2)
    assert local_date(instant, "UTC") == dt.date(2026, 3, 1)
    assert local_date(instant, "America/New_York") == dt.date(2026, 3, 1)
    # Summer time: UTC+2, so 22:30 UTC is already the next day.
    summer = dt.datetime(2026, 6, 14, 22, 30, tzinfo=dt.timezone.utc)
    assert local_date(summer, "Europe/Stockholm") == dt.date(2026, 6, 15)
    with pytest.raises(ValueError):
        local_date(dt.datetime(2026, 3, 1, 12, 0), "UTC")


def test_a_module_opens_at_local_midnight_not_utc_midnight(app, in_treatment, login_as, frozen_now) -> None:
    participant, plan = in_treatment(START)
    second = plan.items[1]
    client = login_as(participant.user)
    url = f"/me/modules/{second.id}/pages/1"
    # 22:59 UTC on 8 March = 23:59 in Stockholm: still week 1, module 2 closed.
    frozen_now(dt.datetime(2026, 3, 8, 22, 59, tzinfo=dt.timezone.utc))
    closed = client.get(url)
    assert closed.status_code == 302 and closed.headers["Location"].endswith("/me/plan")
    # 23:00 UTC on 8 March = 00:00 on 9 March in Stockholm: week 2, module 2 open (UTC is still 8 March).
    frozen_now(dt.datetime(2026, 3, 8, 23, 0, tzinfo=dt.timezone.utc))
    assert client.get(url).status_code == 200
    third = plan.items[2]
    assert client.get(f"/me/modules/{third.id}/pages/1").status_code == 302


def test_the_first_module_opens_on_the_start_date(app, in_treatment, login_as, frozen_now) -> None:
    participant, plan = in_treatment(START)
    client = login_as(participant.user)
    frozen_now(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc))
    page = client.get("/me/plan").get_data(as_text=True)
    assert "Starts on 2026-03-02" in page
    assert client.get(f"/me/modules/{plan.items[0].id}/pages/1").status_code == 302
    frozen_now(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc))
    assert client.get(f"/me/modules/{plan.items[0].id}/pages/1").status_code == 200


def test_current_week_service(app, in_treatment, frozen_now) -> None:
    from icbt.extensions import db
    from icbt.treatment.services import current_week

    participant, _ = in_treatment(START)
    frozen_now(dt.datetime(2026, 3, 15, 22, 59, tzinfo=dt.timezone.utc))  # Sunday 23:59 in Stockholm
    assert current_week(db.session, participant) == 2
    frozen_now(dt.datetime(2026, 3, 15, 23, 0, tzinfo=dt.timezone.utc))  # Monday 00:00 in Stockholm
    assert current_week(db.session, participant) == 3
