"""Stages that move with time (the periodic task): waiting period starts, weeks end, and a
completed waiting-list participant can cross over."""
from __future__ import annotations

import datetime as dt

import pytest

from icbt.extensions import db
from icbt.intake.models import AssessedProfile
from icbt.measures import services as measures
from icbt.measures.instruments import get_instrument
from icbt.measures.models import Administration
from icbt.treatment.services import approve_plan, propose_plan
from icbt.treatment.stages import advance_stages, due_stage
from icbt.trials.allocation import can_cross_over, cross_over, import_allocation

UTC = dt.timezone.utc
START = dt.date(2026, 3, 9)
END = START + dt.timedelta(weeks=10)


@pytest.mark.parametrize(("status", "arm", "today", "crossover", "settled", "expected"), [
    ("randomised", "waitlist", START - dt.timedelta(days=1), None, False, None),
    ("randomised", "waitlist", START, None, False, "active"),
    ("randomised", "treatment", START, None, False, None),  # the approved plan activates treatment
    ("active", "treatment", END - dt.timedelta(days=1), None, True, None),
    ("active", "treatment", END, None, False, None),  # post still open
    ("active", "treatment", END, None, True, "completed"),
    ("active", "waitlist", END, None, True, "completed"),
    ("active", "waitlist", END + dt.timedelta(weeks=3), START + dt.timedelta(weeks=13), True, None),  # crossing over
    ("active", "waitlist", START + dt.timedelta(weeks=23), START + dt.timedelta(weeks=13), False, "completed"),
    ("completed", "waitlist", END + dt.timedelta(weeks=30), None, True, None),
    ("eligible", None, END, None, True, None),
])
def test_due_stage(status, arm, today, crossover, settled, expected) -> None:  # type: ignore[no-untyped-def]
    assert due_stage(status=status, arm=arm, today=today, start_date=START, weeks=10,
                     crossover_start=crossover, post_settled=settled) == expected


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=UTC)


def test_a_waiting_list_participant_goes_through_to_cross_over(factory, therapist, admin) -> None:
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = factory.participant(trial=trial, therapist=therapist, status="eligible")
    db.session.add(AssessedProfile(participant_id=p.id, primary_problem="panic", primary_severity="mild",
                                   comorbid=[], eligible=True, reason=""))
    import_allocation(db.session, p, "waitlist", note="test", actor=admin, at=_at(START - dt.timedelta(days=7)))
    p.status = "randomised"
    db.session.commit()
    assert p.start_date == START
    assert advance_stages(db.session, now=_at(START - dt.timedelta(days=1))) == {}
    assert advance_stages(db.session, now=_at(START)) == {"active": 1} and p.status == "active"
    # The weeks are over but the post questionnaire is open: not yet.
    assert advance_stages(db.session, now=_at(END)) == {}
    post = db.session.query(Administration).filter_by(participant_id=p.id, timepoint="post").one()
    answers = {n: 1 for n in get_instrument("core-om").item_numbers}
    measures.submit(db.session, post, answers, idempotency_key="post", now=_at(END + dt.timedelta(days=1)), notify=False)
    assert advance_stages(db.session, now=_at(END + dt.timedelta(days=1))) == {"completed": 1}
    assert can_cross_over(p)
    plan = cross_over(db.session, p, actor=admin)
    crossover_start = END + dt.timedelta(days=7)
    approve_plan(db.session, plan, actor=therapist, start_date=crossover_start, today=END + dt.timedelta(days=2))
    assert p.status == "active"
    assert advance_stages(db.session, now=_at(crossover_start + dt.timedelta(weeks=10) - dt.timedelta(days=1))) == {}
    assert advance_stages(db.session, now=_at(crossover_start + dt.timedelta(weeks=10))) == {"completed": 1}
    db.session.commit()


def test_a_missed_post_window_settles_it(factory, therapist, admin) -> None:
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = factory.participant(trial=trial, therapist=therapist, status="eligible")
    db.session.add(AssessedProfile(participant_id=p.id, primary_problem="panic", primary_severity="mild",
                                   comorbid=[], eligible=True, reason=""))
    import_allocation(db.session, p, "treatment", note="test", actor=admin, at=_at(START - dt.timedelta(days=7)))
    p.status = "randomised"
    plan = propose_plan(db.session, p, actor=therapist)
    approve_plan(db.session, plan, actor=therapist, start_date=START, today=START - dt.timedelta(days=7),
                 at=_at(START - dt.timedelta(days=7)))
    db.session.commit()
    post = db.session.query(Administration).filter_by(participant_id=p.id, timepoint="post").one()
    assert advance_stages(db.session, now=post.closes_at - dt.timedelta(minutes=1)) == {}
    assert advance_stages(db.session, now=post.closes_at) == {"completed": 1}


def test_the_periodic_command_runs_both(app, runner, factory, therapist) -> None:
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    factory.participant(trial=trial, therapist=therapist, status="randomised", arm="waitlist",
                        start_date=dt.date(2020, 1, 6))
    result = runner.invoke(args=["periodic"])
    assert result.exit_code == 0, result.output
    assert "measures: " in result.output and "stages: active: 1" in result.output
