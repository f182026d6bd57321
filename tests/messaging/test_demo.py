"""The demo seeds believable conversations for treatment participants: idempotent,
deterministic, nothing in the future, replies after questions, feedback linked to homework."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from icbt.demo import seed_demo
from icbt.extensions import db
from icbt.messaging.models import Conversation, Message, Snippet
from icbt.trials.models import Participant

TODAY = dt.date(2026, 11, 26)


def _messages() -> list[tuple]:
    rows = db.session.execute(
        select(Participant.code, Message.sender_role, Message.body, Message.sent_at, Message.homework_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Participant, Participant.id == Conversation.participant_id)
        .where(Message.kind == "message")
        .order_by(Participant.code, Message.sent_at, Message.id)
    ).all()
    return [tuple(r) for r in rows]


def test_demo_conversations(app) -> None:
    seed_demo(db.session, seed=5, today=TODAY)
    db.session.commit()
    first = _messages()
    assert first
    treated = db.session.scalars(
        select(Participant).where(Participant.arm == "treatment", Participant.start_date < TODAY)
    ).all()
    codes = {row[0] for row in first}
    assert codes == {p.code for p in treated}  # every started treatment participant, nobody else
    midnight = dt.datetime.combine(TODAY, dt.time(0), tzinfo=dt.timezone.utc) - dt.timedelta(hours=1)
    for code, sender, body, sent_at, _ in first:
        assert sent_at < midnight + dt.timedelta(hours=1) and body.strip()
    # Each conversation opens with the therapist's welcome; a patient question is answered
    # by the therapist (next working day) unless it was asked in the last day or so.
    by_code: dict[str, list] = {}
    for row in first:
        by_code.setdefault(row[0], []).append(row)
    for rows in by_code.values():
        assert rows[0][1] == "therapist" and "welcome" in rows[0][2].lower()
    assert db.session.scalar(select(Snippet.id)) is not None
    all_messages = db.session.scalars(select(Message)).all()
    assert any(m.read_at is None for m in all_messages) and any(m.read_at for m in all_messages)
    assert all(m.read_at is None or m.read_at >= m.sent_at for m in all_messages)

    again = seed_demo(db.session, seed=5, today=TODAY)
    db.session.commit()
    assert "messages" not in again.created and "snippets" not in again.created
    assert _messages() == first

    from tests.conftest import _empty_all_tables

    _empty_all_tables(app)
    seed_demo(db.session, seed=5, today=TODAY)
    db.session.commit()
    assert _messages() == first  # deterministic from the seed


def test_demo_feedback_answers_the_treatment_homework(factory, therapist) -> None:
    import random

    from icbt.demo import DemoContext
    from icbt.messaging.demo import messaging_conversations
    from icbt.treatment.models import Homework
    from tests.messaging.conftest import handed_in_homework

    start = TODAY - dt.timedelta(days=15)
    p = factory.participant(therapist=therapist, arm="treatment", status="active", start_date=start)
    at = dt.datetime.combine(start + dt.timedelta(days=4), dt.time(18, 0), tzinfo=dt.timezone.utc)
    old = handed_in_homework(p, at, position=1, title="Understanding anxiety", start_date=start)
    recent = handed_in_homework(p, dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(9, 0), tzinfo=dt.timezone.utc),
                                position=3, title="Facing fears step by step", start_date=start)
    ctx = DemoContext(session=db.session, rng=random.Random(3), today=TODAY, therapists=[therapist], participants=[p])
    messaging_conversations(ctx)
    db.session.commit()
    feedback = db.session.scalars(select(Message).where(Message.is_feedback.is_(True))).all()
    assert [(m.homework_id, m.author_id) for m in feedback] == [(old.id, therapist.id)]
    assert "Understanding anxiety" in feedback[0].body
    assert feedback[0].sent_at > old.submitted_at
    db.session.expire_all()
    assert db.session.get(Homework, old.id).status == "reviewed"
    assert db.session.get(Homework, recent.id).status == "submitted"  # left for the therapist
