"""Risk answers: exactly one alert per risk answer, at once; an e-mail without health
content; shown to the therapist, counted for the admin; acknowledged with a note."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from icbt.extensions import db
from icbt.measures import services
from icbt.measures.models import RiskAlert
from icbt.notifications import outbox_messages
from tests.measures.conftest import START, administration, at, core_answers

BEFORE = at(START - dt.timedelta(days=2))


def _alerts() -> list[RiskAlert]:
    return list(db.session.scalars(select(RiskAlert).order_by(RiskAlert.item_number)))


def test_a_core_om_risk_answer_raises_exactly_one_alert(treated, therapist, outbox) -> None:
    seen: list[int] = []
    services.risk_alert_listeners.append(lambda s, alerts: seen.extend(a.item_number for a in alerts))
    pre = administration(treated, "core-om", "pre", BEFORE)
    outcome = services.submit(db.session, pre, core_answers(1, i9=2), idempotency_key="k1", now=BEFORE)
    db.session.commit()
    assert [(a.item_number, a.answer) for a in outcome.alerts] == [(9, 2)]
    services.submit(db.session, pre, core_answers(1, i9=2), idempotency_key="k1", now=BEFORE)  # double click
    services.submit(db.session, pre, core_answers(1, i9=2), idempotency_key="k2", now=BEFORE)  # second tab
    db.session.commit()
    alerts = _alerts()
    assert [(a.participant_id, a.administration_id, a.item_number, a.answer) for a in alerts] == [(treated.id, pre.id, 9, 2)]
    assert alerts[0].created_at is not None and alerts[0].acknowledged_at is None
    assert seen == [9]
    mails = [m for m in outbox_messages(outbox) if m["To"] == therapist.email]
    assert len(mails) == 1
    text = (mails[0]["Subject"] + mails[0].get_content()).lower()
    assert f"/therapist/patients/{treated.id}" in text
    for health_word in ("core", "item", "answer", "risk", "harm", "suicid", "score", treated.code.lower(), "9"):
        assert health_word not in text.replace(f"/therapist/patients/{treated.id}", "")


@pytest.mark.parametrize(("item", "answer", "alerts"), [(6, 0, 0), (6, 1, 1), (22, 4, 1), (34, 1, 1), (1, 4, 0)])
def test_every_core_om_risk_item_alerts_above_zero_and_only_risk_items(treated, item, answer, alerts) -> None:
    pre = administration(treated, "core-om", "pre", BEFORE)
    services.submit(db.session, pre, core_answers(1, **{f"i{item}": answer}), idempotency_key="k", now=BEFORE)
    db.session.commit()
    assert len(_alerts()) == alerts


@pytest.mark.parametrize(("answer", "alerts"), [(0, 0), (1, 1), (3, 1)])
def test_phq9_item_9_alerts(treated, answer, alerts) -> None:
    phq = administration(treated, "phq-9", "screening", dt.datetime(2026, 2, 2, 12, tzinfo=dt.timezone.utc))
    services.submit(db.session, phq, {n: 1 for n in range(1, 9)} | {9: answer}, idempotency_key="p",
                    now=dt.datetime(2026, 2, 2, 12, tzinfo=dt.timezone.utc))
    db.session.commit()
    assert [(a.instrument_id, a.item_number, a.answer) for a in _alerts()] == ([("phq-9", 9, answer)] if alerts else [])


def test_a_correction_does_not_alert_twice_for_the_same_item(treated, therapist) -> None:
    pre = administration(treated, "core-om", "pre", BEFORE)
    services.submit(db.session, pre, core_answers(1, i9=2), idempotency_key="k", now=BEFORE)
    services.correct_administration(db.session, pre, core_answers(1, i9=3, i16=1), reason="entered on paper", actor=therapist)
    db.session.commit()
    assert [(a.item_number, a.answer) for a in _alerts()] == [(9, 2), (16, 1)]


def test_without_a_therapist_the_admins_are_told(factory, trial, outbox) -> None:
    admin = factory.user("admin")
    lonely = factory.participant(trial=trial, arm="waitlist", status="active", start_date=START)
    pre = administration(lonely, "core-om", "pre", BEFORE)
    services.submit(db.session, pre, core_answers(0, i24=1), idempotency_key="k", now=BEFORE)
    db.session.commit()
    assert [m["To"] for m in outbox_messages(outbox) if "alert" in m["Subject"]] == [admin.email]


def test_nothing_is_sent_when_the_request_rolls_back(treated, outbox) -> None:
    pre = administration(treated, "core-om", "pre", BEFORE)
    invitations = len(outbox_messages(outbox))
    services.submit(db.session, pre, core_answers(1, i9=1), idempotency_key="k", now=BEFORE)
    db.session.rollback()
    assert len(outbox_messages(outbox)) == invitations
    assert not [m for m in outbox_messages(outbox) if "alert" in m["Subject"]]


def test_acknowledge_with_a_note_and_the_counts(treated, waiting, therapist) -> None:
    for participant, key in ((treated, "a"), (waiting, "b")):
        pre = administration(participant, "core-om", "pre", BEFORE)
        services.submit(db.session, pre, core_answers(1, i9=1, i16=1), idempotency_key=key, now=BEFORE)
    db.session.commit()
    assert services.unacknowledged_alert_counts(db.session, [treated.id, waiting.id]) == {treated.id: 2, waiting.id: 2}
    assert services.unacknowledged_alert_total(db.session) == 4
    first = services.alerts_for_participant(db.session, treated.id, open_only=True)[0]
    with pytest.raises(services.SubmissionError):
        services.acknowledge_alert(db.session, first, user=therapist, note="   ")
    services.acknowledge_alert(db.session, first, user=therapist, note="Phoned; safety plan agreed.")
    db.session.commit()
    with pytest.raises(services.SubmissionError):
        services.acknowledge_alert(db.session, first, user=therapist, note="again")
    assert services.unacknowledged_alert_counts(db.session, [treated.id, waiting.id]) == {treated.id: 1, waiting.id: 2}
    assert services.unacknowledged_alert_total(db.session, trial_id=treated.trial_id) == 3
    assert first.acknowledged_by_id == therapist.id and first.note == "Phoned; safety plan agreed."
    assert db.session.scalar(select(func.count()).select_from(RiskAlert)) == 4  # acknowledged, not removed
