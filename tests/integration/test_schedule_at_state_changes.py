"""The measurement schedule follows the participant's state: created by the services that
change it (randomisation, plan approval, cross-over), moved and announced by the periodic
task, and shown by pages that compute what is due without writing."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from icbt import clock
from icbt.extensions import db
from icbt.intake.models import AssessedProfile
from icbt.measures import services as measures
from icbt.measures.models import Administration
from icbt.messaging.models import Message
from icbt.treatment.services import approve_plan, plan_for
from icbt.trials.allocation import cross_over, import_allocation, randomise

UTC = dt.timezone.utc
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Stockholm


def _slots(participant) -> dict[tuple[str, str], Administration]:  # type: ignore[no-untyped-def]
    rows = db.session.scalars(select(Administration).where(Administration.participant_id == participant.id))
    return {(a.instrument_id, a.timepoint): a for a in rows}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=STOCKHOLM).astimezone(UTC)


def _system_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message).where(Message.kind == "system")) or 0


def _eligible(factory, therapist, trial):  # type: ignore[no-untyped-def]
    participant = factory.participant(trial=trial, therapist=therapist, status="eligible")
    db.session.add(AssessedProfile(participant_id=participant.id, primary_problem="gad", primary_severity="moderate",
                                   comorbid=[], eligible=True, reason=""))
    db.session.commit()
    return participant


def test_randomisation_creates_the_schedule_and_starts_the_waiting_period(app, factory, therapist, admin, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "FAKE_NOW", NOW)
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10, settings={"randomisation_seed": 7})
    people = [_eligible(factory, therapist, trial) for _ in range(4)]
    for p in people:
        randomise(db.session, p, actor=admin, now=NOW)
    db.session.commit()
    arms = {p.arm for p in people}
    assert arms == {"treatment", "waitlist"}  # blocks of 2 or 4 are balanced
    for p in people:
        slots = _slots(p)
        if p.arm == "waitlist":
            # The waiting period starts a week after randomisation: the pre window is that week.
            assert p.start_date == dt.date(2026, 3, 9)
            assert set(slots) == {("gad-7", "screening"), ("phq-9", "screening"), ("core-om", "pre"), ("core-om", "post")}
            pre = slots[("core-om", "pre")]
            assert (pre.opens_at, pre.closes_at) == (_midnight(dt.date(2026, 3, 2)), _midnight(dt.date(2026, 3, 9)))
            assert pre.status == "open"  # created with its window's status at randomisation
            post = slots[("core-om", "post")]
            assert post.opens_at == _midnight(dt.date(2026, 3, 9) + dt.timedelta(weeks=10))
        else:
            # The treatment arm's start date comes with the approved plan.
            assert p.start_date is None
            assert ("core-om", "pre") not in slots
    # Nobody was told yet: opening windows and inviting is the periodic task's work.
    assert _system_messages() == 0
    assert all(a.opened_notified_at is None for p in people for a in _slots(p).values())
    totals = measures.refresh_all(db.session, now=NOW)
    db.session.commit()
    waiting = [p for p in people if p.arm == "waitlist"]
    assert _system_messages() == len(waiting)  # one invitation each, to the pre CORE-OM
    assert totals["participants"] == len(people)


def test_an_imported_waitlist_allocation_gets_the_same_schedule(app, factory, therapist, admin) -> None:
    trial = factory.trial(timezone="Europe/Stockholm", weeks=8)
    p = _eligible(factory, therapist, trial)
    import_allocation(db.session, p, "waitlist", note="central service", actor=admin, at=NOW)
    db.session.commit()
    assert p.start_date == dt.date(2026, 3, 9)
    assert ("core-om", "post") in _slots(p)


def test_plan_approval_places_the_treatment_questionnaires(app, factory, therapist, admin, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "FAKE_NOW", NOW)
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = _eligible(factory, therapist, trial)
    import_allocation(db.session, p, "treatment", note="test", actor=admin, at=NOW)
    from icbt.treatment.services import propose_plan

    plan = propose_plan(db.session, p, actor=therapist)
    start = dt.date(2026, 3, 9)
    approve_plan(db.session, plan, actor=therapist, start_date=start, today=dt.date(2026, 3, 2), at=NOW)
    db.session.commit()
    slots = _slots(p)
    assert {k for k in slots if k[1] != "screening"} == {
        ("core-om", "pre"), ("expected-alliance", "pre"), ("wai-s", "week3"), ("core-om", "post")}
    assert slots[("wai-s", "week3")].opens_at == _midnight(start + dt.timedelta(days=20))  # day 21
    assert slots[("core-om", "post")].opens_at == _midnight(start + dt.timedelta(weeks=10))
    assert _system_messages() == 0


def test_cross_over_keeps_the_allocations_schedule(app, factory, therapist, admin) -> None:
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = _eligible(factory, therapist, trial)
    import_allocation(db.session, p, "waitlist", note="test", actor=admin, at=NOW - dt.timedelta(weeks=13))
    before = {k: (a.opens_at, a.closes_at) for k, a in _slots(p).items()}
    p.status = "completed"
    cross_over(db.session, p, actor=admin)
    db.session.commit()
    assert plan_for(db.session, p).is_crossover
    assert {k: (a.opens_at, a.closes_at) for k, a in _slots(p).items()} == before


def test_the_dashboard_computes_what_is_due_and_writes_nothing(app, factory, therapist, login_as, monkeypatch) -> None:
    from tests.security.conftest import captured_writes, disallowed_get_writes

    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = factory.participant(trial=trial, therapist=therapist, status="active", arm="waitlist",
                            start_date=dt.date(2026, 3, 9))
    measures.materialise_schedule(db.session, p, now=NOW - dt.timedelta(days=30), refresh=False)
    db.session.commit()
    pre = _slots(p)[("core-om", "pre")]
    assert pre.status == "scheduled"  # stored a month before; the periodic task has not run
    client = login_as(p.user)
    monkeypatch.setitem(app.config, "FAKE_NOW", NOW)  # the pre window is open now
    with captured_writes(app) as writes:
        html = client.get("/me/").get_data(as_text=True)
    assert disallowed_get_writes(writes) == []
    assert f"/me/questionnaires/{pre.id}" in html and "Answer by 2026-03-09" in html
    # After the window closed (within the grace period) it is shown as missed, still answerable.
    monkeypatch.setitem(app.config, "FAKE_NOW", NOW + dt.timedelta(days=8))
    client = login_as(p.user)
    with captured_writes(app) as writes:
        html = client.get("/me/").get_data(as_text=True)
    assert disallowed_get_writes(writes) == []
    assert "The time has passed, but you can still answer." in html
    db.session.refresh(pre)
    assert pre.status == "scheduled"  # nothing was written by the pages
    assert clock.now() == NOW + dt.timedelta(days=8)


def test_the_approval_form_proposes_a_start_after_the_pre_week(app, factory, therapist, login_as, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "FAKE_NOW", NOW)
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    p = _eligible(factory, therapist, trial)
    import_allocation(db.session, p, "treatment", note="test", actor=therapist, at=NOW)
    from icbt.treatment.services import propose_plan

    propose_plan(db.session, p, actor=therapist)
    db.session.commit()
    html = login_as(therapist).get(f"/therapist/patients/{p.id}/plan").get_data(as_text=True)
    assert 'value="2026-03-09"' in html  # today (2 March) + the 7-day pre window
    assert "open during the 7 days before the start date" in html
