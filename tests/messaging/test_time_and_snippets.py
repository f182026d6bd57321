"""Therapist time (heartbeat, caps, corrections, the admin report) and snippets."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from icbt.extensions import db
from icbt.messaging import therapist_time
from icbt.messaging.models import Snippet, TherapistTimeCorrection, TherapistTimeDay
from tests.conftest import login
from tests.messaging.conftest import messages, post, thread_url

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        (None, 100, 0),  # the first beat only starts the clock
        (0, 30, 30),
        (0, 59, 59),
        (0, 600, 60),  # a sleeping laptop counts one capped beat
        (100, 90, 0),  # a clock going back counts nothing
    ],
)
def test_credit_for_a_heartbeat(last, now, expected) -> None:  # type: ignore[no-untyped-def]
    base = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    last_at = None if last is None else base + dt.timedelta(seconds=last)
    assert therapist_time.credit_for(last_at, base + dt.timedelta(seconds=now)) == expected


@pytest.mark.parametrize(
    ("day", "start", "week"),
    [
        (dt.date(2026, 3, 2), dt.date(2026, 3, 2), 1),
        (dt.date(2026, 3, 8), dt.date(2026, 3, 2), 1),
        (dt.date(2026, 3, 9), dt.date(2026, 3, 2), 2),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 2), 0),
        (dt.date(2026, 3, 1), None, None),
    ],
)
def test_treatment_week(day, start, week) -> None:  # type: ignore[no-untyped-def]
    assert therapist_time.treatment_week(day, start) == week


def test_heartbeats_count_capped_time_per_local_day(factory, therapist) -> None:
    p = factory.participant(therapist=therapist, start_date=dt.date(2026, 3, 2))
    t0 = dt.datetime(2026, 3, 3, 22, 58, 0, tzinfo=UTC)  # 23:58 in Stockholm (winter time)
    beats = [0, 30, 60, 400, 430]  # seconds after t0: +30, +30, +60 (capped), +30
    credited = [therapist_time.record_heartbeat(db.session, therapist, p, now=t0 + dt.timedelta(seconds=s),
                                                start=(s == 0)) for s in beats]
    assert credited == [0, 30, 30, 0, 30]  # 400 s is past midnight local: a new day starts its clock
    db.session.commit()
    rows = {r.day: r.seconds for r in db.session.scalars(select(TherapistTimeDay))}
    assert rows == {dt.date(2026, 3, 3): 60, dt.date(2026, 3, 4): 30}


def test_heartbeat_route_and_correction_feed_the_admin_report(app, factory, therapist, login_as) -> None:
    today = therapist_time.local_day(dt.datetime.now(UTC), "Europe/Stockholm")
    p = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=8))
    staff = login_as(therapist)
    assert staff.post(f"/therapist/patients/{p.id}/time/beat", data={"start": "1"}).get_json()["credited"] == 0
    row = db.session.scalar(select(TherapistTimeDay))
    row.last_beat_at = row.last_beat_at - dt.timedelta(seconds=45)  # as if 45 s had passed
    db.session.commit()
    assert staff.post(f"/therapist/patients/{p.id}/time/beat").get_json()["credited"] == 45

    bad = staff.post(f"/therapist/patients/{p.id}/time", data={"day": today.isoformat(), "minutes": "20", "reason": ""})
    assert bad.status_code == 200 and "Say why the time is corrected." in bad.get_data(as_text=True)
    assert db.session.scalar(select(TherapistTimeCorrection)) is None
    ok = staff.post(f"/therapist/patients/{p.id}/time",
                    data={"day": today.isoformat(), "minutes": "15", "reason": "Phone call about the exposure plan"})
    assert ok.status_code == 302

    admin = app.test_client()
    login(admin, factory.user("admin"))
    report = admin.get("/admin/therapist-time?format=csv")
    assert report.status_code == 200
    rows = list(csv.DictReader(io.StringIO(report.get_data(as_text=True))))
    assert rows == [{"participant_code": p.code, "treatment_week": "2", "counted_minutes": "0.8",
                     "corrected_minutes": "15", "minutes": "15.8"}]
    html = admin.get("/admin/therapist-time").get_data(as_text=True)
    assert p.code in html and "15.8" in html


def test_snippets_are_private_and_insert_without_javascript(app, factory, participant, therapist, login_as) -> None:
    staff = login_as(therapist)
    response = staff.post("/therapist/snippets", data={"title": "Praise", "body": "You did well to keep going."})
    assert response.status_code == 302
    snippet = db.session.scalar(select(Snippet))
    # Another therapist can neither see, edit nor use it.
    other = app.test_client()
    login(other, factory.user("therapist"))
    assert "You did well" not in other.get("/therapist/snippets").get_data(as_text=True)
    assert other.get(f"/therapist/snippets/{snippet.id}").status_code == 404
    assert other.post(f"/therapist/snippets/{snippet.id}/delete").status_code == 404
    # Insert (server side), then send: the message is a plain message.
    page = post(staff, thread_url(participant), "Hello,", action="insert", snippet_id=str(snippet.id))
    assert page.status_code == 200
    assert "Hello,\n\nYou did well to keep going.</textarea>" in page.get_data(as_text=True)
    assert messages() == []
    post(staff, thread_url(participant), "Hello,\n\nYou did well to keep going.")
    [message] = messages()
    assert message.body == "Hello,\n\nYou did well to keep going."
    # Duplicate titles get a form error; delete works for the owner.
    dup = staff.post("/therapist/snippets", data={"title": "Praise", "body": "again"})
    assert "already have a snippet with this title" in dup.get_data(as_text=True)
    assert staff.post(f"/therapist/snippets/{snippet.id}/delete").status_code == 302
    assert db.session.scalar(select(Snippet)) is None
