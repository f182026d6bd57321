"""The demo's treatment step: every stage present and consistent, realistic homework that
passes its own checks, nothing after "today", and idempotent."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from icbt.content.services import module_of
from icbt.content.worksheets import draft_from_stored, validate
from icbt.demo import seed_demo
from icbt.extensions import db
from icbt.intake.models import AssessedProfile, IntakeScreening
from icbt.treatment.models import Homework, ModulePlan, PageRead
from icbt.treatment.schedule import treatment_week
from icbt.trials.allocation import Allocation
from icbt.trials.models import Participant
from tests.conftest import login

TODAY = dt.date(2026, 11, 26)


def _counts() -> dict[str, int]:
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
            for m in (IntakeScreening, AssessedProfile, Allocation, ModulePlan, PageRead, Homework)}


def test_the_demo_seeds_every_stage_consistently(app, client) -> None:
    seed_demo(db.session, seed=7, today=TODAY)
    db.session.commit()
    people = db.session.scalars(select(Participant)).all()
    screened = set(db.session.scalars(select(IntakeScreening.participant_id)))
    profiles = {p.participant_id: p for p in db.session.scalars(select(AssessedProfile))}
    allocations = {a.participant_id: a for a in db.session.scalars(select(Allocation))}
    plans = {(p.participant_id, p.is_crossover): p for p in db.session.scalars(select(ModulePlan))}
    for p in people:
        assert (p.id in screened) == (p.status != "applicant"), p
        if p.status in ("applicant", "screened"):
            assert p.id not in profiles
        if p.status == "excluded":
            assert not profiles[p.id].eligible and profiles[p.id].reason
        if p.arm is None:
            assert p.id not in allocations
            continue
        assert allocations[p.id].arm == p.arm and allocations[p.id].method == "imported"
        assert profiles[p.id].eligible
        plan = plans.get((p.id, False))
        if p.arm == "waitlist":
            assert plan is None
            continue
        assert plan is not None
        if p.start_date > TODAY:
            assert plan.status == "proposed"
        else:
            assert plan.status == "approved" and plan.start_date == p.start_date
    # The demo's stages stay as the foundation set them (approving a plan does not rewrite them).
    assert {p.status for p in people if p.arm == "treatment"} == {"randomised", "active", "completed"}
    crossovers = [pl for (pid, crossed), pl in plans.items() if crossed]
    assert len(crossovers) == 1 and crossovers[0].status == "approved"

    # Homework only for open modules, before today, valid when handed in, reviewed after.
    homework = db.session.scalars(select(Homework)).all()
    assert {h.status for h in homework} == {"draft", "submitted", "reviewed"}
    for hw in homework:
        item = hw.plan_item
        plan = item.plan
        assert item.position <= treatment_week(plan.start_date, TODAY)
        assert hw.updated_at.date() < TODAY
        if hw.status != "draft":
            sheet = module_of(item.module_version).worksheet(hw.worksheet_id)
            assert validate(sheet, draft_from_stored(sheet, hw.data))[1] == {}
            assert hw.submitted_at.date() < TODAY
        if hw.status == "reviewed":
            assert hw.submitted_at < hw.reviewed_at and hw.reviewed_at.date() < TODAY
    reads = db.session.scalars(select(PageRead)).all()
    assert reads and all(r.last_read_at.date() < TODAY for r in reads)

    # Pages work with the demo data.
    active = next(p for p in people if p.arm == "treatment" and p.status == "active")
    login(client, active.user, "calm-harbour-2026")
    assert client.get("/me/plan").status_code == 200
    client.post("/auth/logout")
    login(client, active.therapist, "calm-harbour-2026")
    assert client.get(f"/therapist/patients/{active.id}").status_code == 200
    assert client.get(f"/therapist/patients/{active.id}/plan").status_code == 200

    # Idempotent.
    before = _counts()
    again = seed_demo(db.session, seed=7, today=TODAY)
    db.session.commit()
    assert again.created == {} and _counts() == before
