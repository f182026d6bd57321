"""Weekly feedback: a message linked to the homework, which marks it reviewed; the patient
sees what it answers; ids of someone else's homework are refused."""
from __future__ import annotations

import datetime as dt

from icbt.db import utcnow
from icbt.extensions import db
from icbt.messaging.caseload import caseload_rows
from icbt.treatment.models import Homework
from tests.conftest import login
from tests.messaging.conftest import handed_in_homework, messages, post, thread_url


def test_feedback_message_marks_the_homework_reviewed(app, participant, therapist, login_as) -> None:
    homework = handed_in_homework(participant, utcnow() - dt.timedelta(hours=3), title="Worry time")
    staff = login_as(therapist)
    page = staff.get(f"{thread_url(participant)}?homework={homework.id}").get_data(as_text=True)
    assert f'<option selected value="h:{homework.id}">' in page or f'value="h:{homework.id}" selected' in page
    response = post(staff, thread_url(participant), "You planned a fixed worry time each day. Well done.",
                    about=f"h:{homework.id}", is_feedback="y")
    assert response.status_code == 302
    [message] = messages()
    assert (message.homework_id, message.is_feedback) == (homework.id, True)
    db.session.expire_all()
    reviewed = db.session.get(Homework, homework.id)
    assert reviewed.status == "reviewed" and reviewed.reviewed_by_id == therapist.id
    assert reviewed.reviewed_at == message.sent_at

    patient_client = app.test_client()
    login(patient_client, participant.user)
    html = patient_client.get(thread_url()).get_data(as_text=True)
    assert "Weekly feedback on:" in html and "Worry time" in html


def test_a_message_about_a_homework_without_the_flag_leaves_it_waiting(participant, therapist, login_as) -> None:
    homework = handed_in_homework(participant, utcnow() - dt.timedelta(hours=3))
    staff = login_as(therapist)
    post(staff, thread_url(participant), "A quick question first.", about=f"h:{homework.id}")
    db.session.expire_all()
    assert db.session.get(Homework, homework.id).status == "submitted"
    assert [m.homework_id for m in messages()] == [homework.id]


def test_feedback_needs_a_homework(participant, therapist, login_as) -> None:
    handed_in_homework(participant, utcnow())
    staff = login_as(therapist)
    response = post(staff, thread_url(participant), "Feedback on nothing", is_feedback="y")
    assert response.status_code == 200
    assert "Choose the homework this feedback is about." in response.get_data(as_text=True)
    assert messages() == []


def test_nobody_links_a_message_to_someone_elses_homework(app, factory, participant, therapist, login_as) -> None:
    other = factory.participant(therapist=therapist)
    foreign = handed_in_homework(other, utcnow(), title="Their homework")
    own = handed_in_homework(participant, utcnow(), title="My homework")
    client = login_as(participant.user)
    response = post(client, thread_url(), "about their homework", about=f"h:{foreign.id}")
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    staff = app.test_client()
    login(staff, therapist)
    response = post(staff, thread_url(participant), "wrong patient", about=f"h:{foreign.id}", is_feedback="y")
    assert response.status_code == 200
    assert messages() == []
    db.session.expire_all()
    assert db.session.get(Homework, foreign.id).status == "submitted"
    assert post(client, thread_url(), "about my own", about=f"h:{own.id}").status_code == 302
    assert [m.homework_id for m in messages()] == [own.id]


def test_reviewed_homework_is_no_longer_owed(participant, therapist, login_as) -> None:
    # Handed in Friday 2026-10-23 15:00 Stockholm; due by the end of Monday 26th (23:00 UTC).
    handed = dt.datetime(2026, 10, 23, 13, 0, tzinfo=dt.timezone.utc)
    homework = handed_in_homework(participant, handed)
    sunday = dt.datetime(2026, 10, 25, 12, 0, tzinfo=dt.timezone.utc)
    tuesday = dt.datetime(2026, 10, 27, 8, 0, tzinfo=dt.timezone.utc)
    [row] = caseload_rows(db.session, therapist, now=sunday)
    assert (row.waiting, row.overdue) == (1, 0)
    assert row.oldest_due == dt.datetime(2026, 10, 26, 23, 0, tzinfo=dt.timezone.utc)
    [row] = caseload_rows(db.session, therapist, now=tuesday)
    assert (row.waiting, row.overdue, row.attention.name) == (1, 1, "OVERDUE_FEEDBACK")
    staff = login_as(therapist)
    post(staff, thread_url(participant), "Feedback at last.", about=f"h:{homework.id}", is_feedback="y")
    [row] = caseload_rows(db.session, therapist, now=tuesday)
    assert (row.waiting, row.overdue) == (0, 0)
