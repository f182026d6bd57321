"""Schedule materialisation, statuses through time, submission, immutability, corrections
and the query helpers, on the real database with an injected clock."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.measures import services
from icbt.measures.models import Administration, AdministrationAnswer, ImmutableRecordError
from icbt.measures.scoring import AnswerError
from icbt.notifications import outbox_messages
from tests.measures.conftest import START, UTC, administration, at, core_answers


def core_total(v: int) -> float:
    """CORE-OM mean for ``core_answers(v)``: 20 plain non-risk items score v, the 8 reversed
    items 4 - v, the 6 risk items 0."""
    return (20 * v + 8 * (4 - v) + 6 * 0) / 34


def _slots(administrations) -> dict:  # type: ignore[no-untyped-def]
    return {(a.instrument_id, a.timepoint): a.status for a in administrations}


def test_materialise_is_idempotent_and_follows_the_arm(treated, waiting) -> None:
    now = at(START - dt.timedelta(days=3))
    first = services.materialise_schedule(db.session, treated, now=now)
    again = services.materialise_schedule(db.session, treated, now=now)
    db.session.commit()
    assert [a.id for a in first] == [a.id for a in again]
    assert _slots(first) == {
        ("gad-7", "screening"): "missed", ("phq-9", "screening"): "missed",
        ("core-om", "pre"): "open", ("expected-alliance", "pre"): "open",
        ("wai-s", "week3"): "scheduled", ("core-om", "post"): "scheduled",
    }
    wl = services.materialise_schedule(db.session, waiting, now=now)
    assert set(_slots(wl)) == {("gad-7", "screening"), ("phq-9", "screening"), ("core-om", "pre"), ("core-om", "post")}
    count = db.session.scalar(select(func.count()).select_from(Administration))
    assert count == 6 + 4
    schedule_lines = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "measures.schedule"))
    assert schedule_lines == 2  # one per participant, only when something was created


def test_a_moved_start_date_moves_the_open_windows_but_not_answered_ones(treated) -> None:
    now = at(START - dt.timedelta(days=3))
    pre = administration(treated, "core-om", "pre", now)
    services.submit(db.session, pre, core_answers(1), idempotency_key="k-pre", now=now)
    db.session.commit()
    submitted_window = (pre.opens_at, pre.closes_at)
    treated.start_date = START + dt.timedelta(days=14)
    services.materialise_schedule(db.session, treated, now=now)
    db.session.commit()
    week3 = db.session.scalar(select(Administration).where(Administration.timepoint == "week3"))
    assert week3.opens_at.date() == START + dt.timedelta(days=14 + 20 - 1)  # local midnight = 23:00 UTC the day before
    assert (pre.opens_at, pre.closes_at) == submitted_window


def test_statuses_move_with_the_clock_and_hooks_fire_once(treated, outbox) -> None:
    opened: list[tuple[str, str]] = []
    services.administration_opened_listeners.append(lambda s, a: opened.append((a.instrument_id, a.timepoint)))
    week3_open = dt.datetime(2026, 3, 21, 23, tzinfo=UTC)  # 22 March 00:00 in Stockholm

    def statuses(now: dt.datetime) -> dict:
        services.refresh_all(db.session, now=now)
        db.session.commit()
        return _slots(services.current_administrations(db.session, treated.id))

    assert statuses(week3_open - dt.timedelta(seconds=1))[("wai-s", "week3")] == "scheduled"
    assert ("wai-s", "week3") not in opened
    assert statuses(week3_open)[("wai-s", "week3")] == "open"
    assert statuses(week3_open + dt.timedelta(days=2))[("wai-s", "week3")] == "open"
    assert statuses(week3_open + dt.timedelta(days=3))[("wai-s", "week3")] == "open"  # reminder day
    assert opened.count(("wai-s", "week3")) == 1  # opened once, however often refreshed
    assert statuses(week3_open + dt.timedelta(days=7))[("wai-s", "week3")] == "missed"
    # a window that was never seen open is not announced when found already closed
    assert ("core-om", "pre") not in opened and ("gad-7", "screening") not in opened
    mails = outbox_messages(outbox)
    subjects = [m["Subject"] for m in mails]
    assert subjects.count("A questionnaire is waiting for you") == 1
    assert subjects.count("Reminder: a questionnaire is waiting for you") == 1  # day 3 of the window
    for mail in mails:
        assert mail["To"] == treated.user.email
        body = mail.get_content().lower()
        for health_word in ("wai", "alliance", "core", "score", "risk", "anxiety", "week 3"):
            assert health_word not in body


def test_missed_is_recorded_and_a_late_answer_is_accepted_within_the_grace(treated) -> None:
    now = at(START - dt.timedelta(days=3))
    pre = administration(treated, "core-om", "pre", now)
    after_close = pre.closes_at + dt.timedelta(days=2)
    services.refresh_all(db.session, now=after_close)
    db.session.commit()
    assert pre.status == "missed"
    outcome = services.submit(db.session, pre, core_answers(2), idempotency_key="late-1", now=after_close)
    db.session.commit()
    assert outcome.created and pre.status == "late" and pre.submitted_at == after_close
    expected = administration(treated, "expected-alliance", "pre", now)
    with pytest.raises(services.SubmissionError):
        services.submit(db.session, expected, {n: 4 for n in range(1, 13)}, idempotency_key="too-late",
                        now=expected.closes_at + dt.timedelta(days=14))
    assert not expected.is_submitted


def test_submit_stores_answers_and_scores_once(treated) -> None:
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    services.save_draft(db.session, pre, {1: 3, 2: 9, "x": 1}, now=now)  # a draft keeps only what is valid
    assert pre.draft == {"1": 3}
    answers = core_answers(2)
    first = services.submit(db.session, pre, answers, idempotency_key="same", now=now, wording_version="none-installed")
    db.session.commit()
    assert first.created
    assert pre.status == "submitted" and pre.draft == {} and pre.wording_version is None
    assert pre.scores["scores"]["total"] == pytest.approx(core_total(2))
    assert pre.scores["scoring_version"] == "1.0" and pre.instrument_version == "1.0"
    assert pre.answer_map() == answers
    assert {(a.scale_min, a.scale_max) for a in pre.answers} == {(0, 4)}
    repeat = services.submit(db.session, pre, core_answers(4), idempotency_key="same", now=now)
    other_tab = services.submit(db.session, pre, core_answers(4), idempotency_key="another", now=now)
    db.session.commit()
    assert not repeat.created and not other_tab.created
    assert db.session.scalar(select(func.count()).select_from(AdministrationAnswer)) == 34
    db.session.expire_all()
    assert db.session.get(Administration, pre.id).answer_map() == answers
    submits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "administration.submit")).all()
    assert len(submits) == 1 and "total" not in str(submits[0].detail)  # no health data in the audit line


def test_submitted_records_are_immutable(treated) -> None:
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    services.submit(db.session, pre, core_answers(1), idempotency_key="k", now=now)
    db.session.commit()
    pre.scores = {"scores": {"total": 0}}
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    answer = db.session.get(Administration, pre.id).answers[0]
    answer.value = 4
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(Administration, pre.id).answers[0])
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(services.SubmissionError):
        services.save_draft(db.session, db.session.get(Administration, pre.id), {1: 2}, now=now)


def test_the_database_refuses_out_of_range_answers(treated) -> None:
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    with pytest.raises(IntegrityError):
        db.session.execute(insert(AdministrationAnswer).values(
            administration_id=pre.id, item_number=1, value=5, scale_min=0, scale_max=4))
    db.session.rollback()


def test_bad_answers_are_refused_before_anything_is_stored(treated) -> None:
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    with pytest.raises(AnswerError):
        services.submit(db.session, pre, {1: 7}, idempotency_key="k", now=now)
    with pytest.raises(services.SubmissionError):
        services.submit(db.session, pre, {1: 1}, idempotency_key="", now=now)
    db.session.commit()
    assert not pre.is_submitted
    assert db.session.scalar(select(func.count()).select_from(AdministrationAnswer)) == 0


def test_a_staff_correction_is_a_new_record_and_the_original_is_kept(treated, therapist) -> None:
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    services.submit(db.session, pre, core_answers(1), idempotency_key="k", now=now)
    db.session.commit()
    with pytest.raises(services.SubmissionError):
        services.correct_administration(db.session, pre, core_answers(3), reason="", actor=therapist, now=now)
    with pytest.raises(services.SubmissionError):
        services.correct_administration(db.session, pre, core_answers(3), reason="typo fix", actor=treated.user, now=now)
    fixed = services.correct_administration(db.session, pre, core_answers(3), reason="Patient read the scale backwards",
                                            actor=therapist, now=now)
    db.session.commit()
    assert (fixed.revision, fixed.supersedes_id) == (1, pre.id)
    assert fixed.scores["scores"]["total"] == pytest.approx(core_total(3))
    db.session.expire_all()
    original = db.session.get(Administration, pre.id)
    assert original.scores["scores"]["total"] == pytest.approx(core_total(1))
    assert original.answer_map() == core_answers(1)
    current = {(a.instrument_id, a.timepoint): a for a in services.current_administrations(db.session, treated.id)}
    assert current[("core-om", "pre")].id == fixed.id
    second = services.correct_administration(db.session, original, core_answers(2), reason="Second look", actor=therapist)
    assert (second.revision, second.supersedes_id) == (2, fixed.id)
    record = next(r for r in services.analysis_records(db.session, treated.trial_id) if r["participant_id"] == treated.id)
    assert record["core_om_pre"]["total"] == pytest.approx(core_total(2))
    assert record["administrations"]["core_om_pre"]["revision"] == 2


def test_a_failing_listener_does_not_undo_the_measurement(treated) -> None:
    def broken(session, adm):  # type: ignore[no-untyped-def]
        session.add(AuditEvent(action="listener.half-done"))
        session.flush()
        raise RuntimeError("messaging is down")

    services.administration_submitted_listeners.append(broken)
    now = at(START - dt.timedelta(days=2))
    pre = administration(treated, "core-om", "pre", now)
    assert services.submit(db.session, pre, core_answers(1), idempotency_key="k", now=now).created
    db.session.commit()
    assert db.session.get(Administration, pre.id).is_submitted
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "listener.half-done")) == 0


class _CountQueries:
    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine, self.n = engine, 0

    def __enter__(self):  # type: ignore[no-untyped-def]
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:  # type: ignore[no-untyped-def]
        statement = args[2]
        if statement.lstrip().upper().startswith("SELECT"):
            self.n += 1


def test_latest_core_om_clinical_for_many_participants_in_one_query(factory, trial, treated, waiting) -> None:
    before = at(START - dt.timedelta(days=2))
    after = at(START + dt.timedelta(days=71))
    for participant, pre_value, post_value in ((treated, 3, 1), (waiting, 2, None)):
        pre = administration(participant, "core-om", "pre", before)
        services.submit(db.session, pre, core_answers(pre_value), idempotency_key=f"pre-{participant.id}", now=before)
        if post_value is not None:
            post = administration(participant, "core-om", "post", after)
            services.submit(db.session, post, core_answers(post_value), idempotency_key=f"post-{participant.id}", now=after)
    nobody = factory.participant(trial=trial)
    db.session.commit()
    ids = [treated.id, waiting.id, nobody.id]
    with _CountQueries(db.engine) as counter:
        latest = services.latest_core_om_clinical(db.session, ids)
        alerts = services.unacknowledged_alert_counts(db.session, ids)
    assert counter.n == 2
    assert latest == {treated.id: pytest.approx(10 * core_total(1)), waiting.id: pytest.approx(10 * core_total(2)), nobody.id: None}
    assert alerts == {treated.id: 0, waiting.id: 0, nobody.id: 0}


def test_analysis_records_shape(factory, trial, treated, waiting) -> None:
    before = at(START - dt.timedelta(days=2))
    for participant in (treated, waiting):
        adm = administration(participant, "core-om", "pre", before)
        services.submit(db.session, adm, core_answers(2), idempotency_key=f"pre-{participant.id}", now=before)
    expected = administration(treated, "expected-alliance", "pre", before)
    services.submit(db.session, expected, {n: 6 for n in range(1, 13)}, idempotency_key="exp", now=before)
    week3 = administration(treated, "wai-s", "week3", at(START + dt.timedelta(days=21)))
    services.submit(db.session, week3, {n: 5 for n in range(1, 12)}, idempotency_key="w3", now=at(START + dt.timedelta(days=21)))
    db.session.commit()
    services.refresh_all(db.session, now=at(START + dt.timedelta(days=100)))
    db.session.commit()
    records = {r["participant_id"]: r for r in services.analysis_records(db.session, trial.id)}
    t, w = records[treated.id], records[waiting.id]
    assert t["arm"] == "treatment" and t["code"] == treated.code
    assert t["core_om_pre"]["total_clinical"] == pytest.approx(10 * core_total(2))
    assert t["core_om_post"] is None and t["administrations"]["core_om_post"]["status"] == "missed"
    # expected alliance: items 4 and 10 reversed (8 - 6 = 2): 10 x 6 + 2 x 2
    assert t["expected_alliance"] == {"total": 64, "task": 24, "bond": 24, "goal": 16}
    # week 3: item 12 (Task) missing -> Task prorated 3 x 5 / 3 x 4 = 20; goal has 4 and 10 reversed: 5 + 3 + 3 + 5
    assert t["wai_week3"]["task"] == pytest.approx(20)
    assert t["wai_week3"]["goal"] == 16 and t["wai_week3"]["bond"] == 20
    assert t["wai_week3"]["total"] == pytest.approx((5 * 9 + 3 * 2) / 11 * 12)
    assert t["administrations"]["wai_week3"]["missing_items"] == [12]
    assert w["wai_week3"] is None and "wai_week3" not in w["administrations"]
    assert w["core_om_pre"]["total_clinical"] == pytest.approx(10 * core_total(2))


def test_the_periodic_task_opens_windows_and_commits(app, treated) -> None:
    from icbt.measures.tasks import refresh_measurements

    db.session.commit()
    totals = refresh_measurements()
    assert totals["participants"] == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Administration)) == 6
