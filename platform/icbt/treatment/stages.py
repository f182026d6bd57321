"""The stages that move with time, done by the periodic task (a page never changes them).

    randomised -> active     a waiting-list participant, from the first day of the waiting
                             period (``start_date``; a treatment participant becomes active
                             when the therapist approves the plan, ``approve_plan``)
    active -> completed      the treatment (or waiting) weeks are over and the post
                             questionnaire is settled: answered, or its window has closed
                             (an answer within the grace period is still accepted, as late);
                             a cross-over treatment completes at the end of its own weeks

A completed waiting-list participant can then cross over (``trials.allocation.cross_over``).
``due_stage`` is the rule (pure); ``advance_stages`` applies it to every participant.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from icbt.audit.services import record
from icbt.db import utcnow
from icbt.trials.models import Arm, Participant, ParticipantStatus

RANDOMISED = ParticipantStatus.RANDOMISED.value
ACTIVE = ParticipantStatus.ACTIVE.value
COMPLETED = ParticipantStatus.COMPLETED.value


def due_stage(*, status: str, arm: str | None, today: dt.date, start_date: dt.date | None, weeks: int,
              crossover_start: dt.date | None = None, post_settled: bool = False) -> str | None:
    """The stage the participant should move to today, or None to stay."""
    if status == RANDOMISED and arm == Arm.WAITLIST.value and start_date is not None and today >= start_date:
        return ACTIVE
    if status != ACTIVE:
        return None
    if crossover_start is not None:
        return COMPLETED if today >= crossover_start + dt.timedelta(weeks=weeks) else None
    if start_date is not None and today >= start_date + dt.timedelta(weeks=weeks) and post_settled:
        return COMPLETED
    return None


def advance_stages(session: Session, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Move every randomised or active participant whose stage is due; {new stage: count}."""
    from icbt.measures.models import Administration
    from icbt.treatment.models import ModulePlan

    now = now or utcnow()
    participants = session.scalars(
        select(Participant).where(Participant.status.in_((RANDOMISED, ACTIVE)))
        .options(selectinload(Participant.trial))
    ).all()
    if not participants:
        return {}
    ids = [p.id for p in participants]
    crossover = dict(session.execute(
        select(ModulePlan.participant_id, ModulePlan.start_date)
        .where(ModulePlan.participant_id.in_(ids), ModulePlan.is_crossover.is_(True), ModulePlan.status == "approved")
    ).all())
    unsettled = set(session.scalars(
        select(Administration.participant_id).where(
            Administration.participant_id.in_(ids), Administration.timepoint == "post",
            Administration.revision == 0, Administration.submitted_at.is_(None), Administration.closes_at > now)
    ))
    moved: dict[str, int] = {}
    for p in participants:
        stage = due_stage(status=p.status, arm=p.arm, today=now.astimezone(ZoneInfo(p.trial.timezone)).date(),
                          start_date=p.start_date, weeks=p.trial.weeks, crossover_start=crossover.get(p.id),
                          post_settled=p.id not in unsettled)
        if stage is None:
            continue
        p.status = stage
        record(session, "participant.status", target=p, detail={"status": stage})
        moved[stage] = moved.get(stage, 0) + 1
    session.flush()
    return moved
