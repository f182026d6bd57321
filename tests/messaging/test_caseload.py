"""The therapist's caseload: sorted by what needs attention, with a bounded number of SQL
statements whatever the caseload size."""
from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from icbt.db import utcnow
from icbt.extensions import db
from icbt.measures.models import Administration, RiskAlert
from icbt.messaging.caseload import Attention, caseload_rows, classify, CaseloadRow
from icbt.messaging.models import Conversation, Message
from icbt.trials.models import Participant
from icbt.users.models import User
from tests.conftest import login
from tests.messaging.conftest import handed_in_homework


def _alert(participant, now, *, acknowledged: bool = False):  # type: ignore[no-untyped-def]
    adm = Administration(
        participant_id=participant.id, instrument_id="core-om", instrument_version="1", timepoint="pre",
        opens_at=now - dt.timedelta(days=2), closes_at=now + dt.timedelta(days=5), status="submitted",
        submitted_at=now - dt.timedelta(days=1), draft={}, scores={"scores": {"total_clinical": 18.5}},
    )
    db.session.add(adm)
    db.session.flush()
    db.session.add(RiskAlert(participant_id=participant.id, administration_id=adm.id, instrument_id="core-om",
                             item_number=9, answer=2,
                             acknowledged_at=now if acknowledged else None,
                             acknowledged_by_id=participant.therapist_id if acknowledged else None,
                             note="called, safe" if acknowledged else None))
    db.session.commit()


def _patient_message(participant, at, *, read: bool = False) -> None:  # type: ignore[no-untyped-def]
    conversation = Conversation(participant_id=participant.id)
    db.session.add(conversation)
    db.session.flush()
    db.session.add(Message(conversation_id=conversation.id, author_id=participant.user_id, sender_role="patient",
                           kind="message", body="hello", idempotency_key=uuid.uuid4().hex, sent_at=at,
                           read_at=at if read else None))
    db.session.commit()


def test_rows_are_sorted_by_what_needs_attention(factory, therapist) -> None:
    now = utcnow()
    today = now.astimezone(ZoneInfo("Europe/Stockholm")).date()  # the trial's day
    active = {"status": "active", "arm": "treatment"}
    rest = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=2), **active)
    inactive = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=20), **active)
    waiting = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=2), **active)
    handed_in_homework(waiting, now - dt.timedelta(minutes=5))
    unread = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=2), **active)
    _patient_message(unread, now - dt.timedelta(hours=1))
    overdue = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=20), **active)
    handed_in_homework(overdue, now - dt.timedelta(days=6), start_date=today - dt.timedelta(days=20))
    risk = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=2), **active)
    _alert(risk, now)
    quiet_after_alert = factory.participant(therapist=therapist, start_date=today - dt.timedelta(days=2), **active)
    _alert(quiet_after_alert, now, acknowledged=True)
    factory.participant(therapist=factory.user("therapist"), **active)  # someone else's

    rows = caseload_rows(db.session, therapist, now=now)
    order = [r.participant.id for r in rows]
    assert order[:5] == [risk.id, overdue.id, unread.id, waiting.id, inactive.id]
    assert set(order[5:]) == {rest.id, quiet_after_alert.id}
    by_id = {r.participant.id: r for r in rows}
    assert by_id[risk.id].risk_alerts == 1 and by_id[risk.id].core_om == 18.5
    assert by_id[quiet_after_alert.id].risk_alerts == 0 and by_id[quiet_after_alert.id].core_om == 18.5
    assert by_id[inactive.id].inactive_days == 20
    assert by_id[overdue.id].week == 3 and by_id[overdue.id].module_title == "Getting started"
    assert by_id[unread.id].last_activity == now - dt.timedelta(hours=1)


def test_inactive_days_come_from_the_trial_settings(factory, therapist) -> None:
    trial = factory.trial(settings={"inactive_days": 3})
    now = utcnow()
    today = now.astimezone(ZoneInfo(trial.timezone)).date()
    p = factory.participant(trial=trial, therapist=therapist, status="active", start_date=today - dt.timedelta(days=4))
    [row] = caseload_rows(db.session, therapist, now=now)
    assert row.attention is Attention.INACTIVE and row.inactive_days == 4
    trial.settings = {"inactive_days": 7}
    db.session.commit()
    [row] = caseload_rows(db.session, therapist, now=now)
    assert row.attention is Attention.NONE and row.participant.id == p.id


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"risk_alerts": 1, "overdue": 1, "unread": 3}, Attention.RISK),
        ({"overdue": 1, "waiting": 1, "unread": 2}, Attention.OVERDUE_FEEDBACK),
        ({"unread": 1, "waiting": 2, "inactive_days": 9}, Attention.UNREAD),
        ({"waiting": 1, "inactive_days": 9}, Attention.HOMEWORK_WAITING),
        ({"inactive_days": 7}, Attention.INACTIVE),
        ({}, Attention.NONE),
    ],
)
def test_classify(counts, expected) -> None:  # type: ignore[no-untyped-def]
    row = CaseloadRow(participant=None, attention=Attention.NONE, **counts)  # type: ignore[arg-type]
    assert classify(row) is expected


def _populate(therapist: User, n: int) -> None:
    """``n`` patients with a mix of everything the page shows, written in bulk."""
    from icbt.trials.models import Trial

    trial = db.session.query(Trial).first()
    now = utcnow()
    hash_ = therapist.password_hash
    for i in range(n):
        user = User(email=f"bulk{n}-{i}@example.org", display_name=f"Bulk {i}", role="patient",
                    password_hash=hash_, session_token=uuid.uuid4().hex)
        db.session.add(user)
        db.session.flush()
        p = Participant(trial_id=trial.id, user_id=user.id, code=f"B{n:03d}{i:04d}", arm="treatment",
                        status="active", therapist_id=therapist.id, start_date=now.date() - dt.timedelta(days=i % 30))
        db.session.add(p)
        db.session.flush()
        if i % 2 == 0:
            _patient_message(p, now - dt.timedelta(hours=i), read=i % 4 == 0)
        if i % 3 == 0:
            handed_in_homework(p, now - dt.timedelta(days=i % 5))
        if i % 7 == 0:
            _alert(p, now, acknowledged=i % 14 == 0)
    db.session.commit()


def _count_statements(app, client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    engine = app.extensions["icbt.db"]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    db.session.commit()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def test_caseload_page_uses_the_same_number_of_queries_for_10_and_200_patients(app, factory) -> None:
    factory.trial()
    counts = {}
    for n in (10, 200):
        therapist = factory.user("therapist")
        _populate(therapist, n)
        client = app.test_client()
        login(client, therapist)
        client.get("/therapist/")  # warm up (first-request caches, session bookkeeping)
        counts[n], html = _count_statements(app, client, "/therapist/")
        # Paged: the first page holds CASELOAD_PAGE_SIZE rows, the further pages the rest.
        from icbt.therapists.routes import CASELOAD_PAGE_SIZE

        shown = html.count('<tr class="attention-')
        assert shown == min(n, CASELOAD_PAGE_SIZE)
        page = 2
        while shown < n:
            more = client.get(f"/therapist/?page={page}").get_data(as_text=True).count('<tr class="attention-')
            assert more > 0, (page, shown, n)
            shown += more
            page += 1
        assert shown == n
        assert client.get(f"/therapist/?page={page}").status_code == 404
    print("statements per caseload page:", counts)
    assert counts[10] == counts[200], counts
    assert counts[200] <= 30, counts  # and the bound is small


def test_admin_load_and_inbox_are_bounded_too(app, factory) -> None:
    factory.trial()
    counts = {}
    for n in (10, 100):
        therapist = factory.user("therapist")
        _populate(therapist, n)
        client = app.test_client()
        login(client, therapist)
        client.get("/therapist/messages")
        counts[("inbox", n)], _ = _count_statements(app, client, "/therapist/messages")
    admin = factory.user("admin")
    client = app.test_client()
    login(client, admin)
    client.get("/admin/therapists")
    first, html = _count_statements(app, client, "/admin/therapists")
    _populate(factory.user("therapist"), 30)
    second, _ = _count_statements(app, client, "/admin/therapists")
    assert counts[("inbox", 10)] == counts[("inbox", 100)]
    assert first == second
    assert "hello" not in html
