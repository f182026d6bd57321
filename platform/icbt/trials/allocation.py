"""Allocations: which arm a participant was randomised to. One per participant, never changed.

``randomise`` draws the next arm of the participant's stratum from the sequence that the
trial's stored seed defines (``trials.randomisation``). The sequence is never stored: it is
computed at the moment a participant is randomised, so nothing reveals the next allocation.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from icbt.audit.services import allow_detail_keys, record
from icbt.db import Base, utcnow
from icbt.trials.models import ARM_VALUES, Arm, Participant, ParticipantStatus, Trial
from icbt.trials.randomisation import DEFAULT_BLOCK_SIZES, allocation_at

METHODS = ("sequence", "imported")

allow_detail_keys("sequence_index", "stratum")  # declared at the merge with security


class Allocation(Base):
    __tablename__ = "allocations"
    __table_args__ = (
        UniqueConstraint("trial_id", "stratum", "sequence_index"),
        CheckConstraint(f"arm IN {ARM_VALUES!r}", name="arm_known"),
        CheckConstraint(f"method IN {METHODS!r}", name="method_known"),
        CheckConstraint("method <> 'sequence' OR sequence_index IS NOT NULL", name="sequence_has_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="RESTRICT"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"), unique=True)
    arm: Mapped[str] = mapped_column(String(16))
    stratum: Mapped[str] = mapped_column(String(64))
    sequence_index: Mapped[int | None]  # position in the stratum's sequence (method "sequence")
    method: Mapped[str] = mapped_column(String(16), default="sequence")
    note: Mapped[str] = mapped_column(Text, default="")
    allocated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    allocated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AllocationError(Exception):
    """The participant cannot be randomised (or crossed over) now; the message says why."""


@event.listens_for(Allocation, "before_update")
def _allocations_are_immutable(mapper: Any, connection: Any, target: Allocation) -> None:
    raise AllocationError("an allocation is never changed after it is made")


@event.listens_for(Allocation, "before_delete")
def _allocations_are_kept(mapper: Any, connection: Any, target: Allocation) -> None:
    raise AllocationError("an allocation is never deleted")


# ------------------------------------------------------------------ settings of a trial

def randomisation_settings(trial: Trial) -> dict[str, Any]:
    """The trial's randomisation settings with defaults (block sizes, stratification)."""
    return {
        "block_sizes": tuple(trial.setting("randomisation_block_sizes", DEFAULT_BLOCK_SIZES)),
        "stratify_by": trial.setting("randomisation_stratify_by"),  # None or "primary_problem"
    }


def ensure_seed(session: Session, trial: Trial, *, actor: Any = None) -> int:
    """The trial's seed, created (from the OS's random source) and stored before first use."""
    seed = trial.setting("randomisation_seed")
    if seed is None:
        seed = secrets.randbelow(2**63)
        trial.settings = {**(trial.settings or {}), "randomisation_seed": seed}
        session.flush()
        record(session, "trial.randomisation_seed", actor=actor, target=trial)
    return int(seed)


def stratum_of(session: Session, participant: Participant) -> str:
    settings = randomisation_settings(participant.trial)
    if settings["stratify_by"] == "primary_problem":
        from icbt.intake.services import current_profile

        profile = current_profile(session, participant)
        if profile is None or not profile.primary_problem:
            raise AllocationError(_l("The trial is stratified by primary problem, but the participant has no assessed profile."))
        return profile.primary_problem
    return "all"


def allocation_of(session: Session, participant: Participant) -> Allocation | None:
    return session.scalar(select(Allocation).where(Allocation.participant_id == participant.id))


# ------------------------------------------------------------------ randomising

def randomise(session: Session, participant: Participant, *, actor: Any = None,
              now: dt.datetime | None = None, propose_plan: bool = True) -> Allocation:
    """Allocate an eligible participant to an arm (once). Writes an audit line.

    Concurrent randomisations in the same stratum cannot take the same place in the
    sequence: (trial, stratum, sequence_index) is unique, and a collision retries.
    """
    if allocation_of(session, participant) is not None:
        raise AllocationError(_l("This participant is already randomised; an allocation is never changed."))
    if participant.status != ParticipantStatus.ELIGIBLE.value:
        raise AllocationError(_l("Only participants assessed as eligible can be randomised."))
    # One randomisation at a time per trial: the row lock (PostgreSQL; SQLite's write lock
    # already serialises) makes "count, then take the next place" safe. The unique
    # (trial, stratum, sequence_index) and the retry below stay as a second guard.
    trial = session.scalars(select(Trial).where(Trial.id == participant.trial_id).with_for_update()).one()
    seed = ensure_seed(session, trial, actor=actor)
    settings = randomisation_settings(trial)
    stratum = stratum_of(session, participant)
    now = now or utcnow()
    for _attempt in range(10):
        index = session.scalar(
            select(func.count()).select_from(Allocation).where(
                Allocation.trial_id == trial.id, Allocation.stratum == stratum, Allocation.method == "sequence"
            )
        ) or 0
        arm = allocation_at(seed, stratum, index, block_sizes=settings["block_sizes"])
        allocation = Allocation(trial_id=trial.id, participant_id=participant.id, arm=arm, stratum=stratum,
                                sequence_index=index, method="sequence", allocated_at=now,
                                allocated_by_id=getattr(actor, "id", None))
        try:
            with session.begin_nested():
                session.add(allocation)
        except IntegrityError:
            if allocation_of(session, participant) is not None:
                raise AllocationError(_l("This participant was randomised at the same moment by someone else.")) from None
            continue  # another participant took this place in the sequence: draw the next one
        break
    else:  # pragma: no cover - ten collisions in a row
        raise AllocationError(_l("The randomisation was busy; please try again."))
    participant.arm = arm
    participant.status = ParticipantStatus.RANDOMISED.value
    participant.randomised_at = now
    session.flush()
    record(session, "participant.randomise", actor=actor, target=participant,
           detail={"arm": arm, "stratum": stratum, "sequence_index": index})
    _schedule_after_allocation(session, participant, now)
    if propose_plan and arm == Arm.TREATMENT.value:
        from icbt.treatment.services import PlanError, propose_plan as make_proposal

        try:
            make_proposal(session, participant, actor=actor)
        except PlanError:  # e.g. a plan already exists; the therapist's plan page can propose one
            pass
    return allocation


def import_allocation(session: Session, participant: Participant, arm: str, *, note: str,
                      actor: Any = None, at: dt.datetime | None = None) -> Allocation:
    """Record an allocation made outside the platform (e.g. by a central service), with a note."""
    if arm not in ARM_VALUES:
        raise AllocationError(f"unknown arm {arm!r}")
    if not note.strip():
        raise AllocationError("an imported allocation needs a note saying where it came from")
    if allocation_of(session, participant) is not None:
        raise AllocationError(_l("This participant is already randomised; an allocation is never changed."))
    allocation = Allocation(trial_id=participant.trial_id, participant_id=participant.id, arm=arm, stratum="all",
                            sequence_index=None, method="imported", note=note.strip(), allocated_at=at or utcnow(),
                            allocated_by_id=getattr(actor, "id", None))
    session.add(allocation)
    participant.arm = arm
    if participant.randomised_at is None:
        participant.randomised_at = allocation.allocated_at
    session.flush()
    record(session, "participant.allocation_import", actor=actor, target=participant, detail={"arm": arm})
    _schedule_after_allocation(session, participant, allocation.allocated_at)
    return allocation


def _schedule_after_allocation(session: Session, participant: Participant, now: dt.datetime) -> None:
    """The measurement schedule follows the allocation: a waiting-list participant's waiting
    period gets its start date now (``measures.schedule.waitlist_start``); a treatment
    participant's comes with the approved plan. The administrations planned so far are
    created (window transitions and invitations are the periodic task's)."""
    from icbt.measures.schedule import local_date, waitlist_start
    from icbt.measures.services import materialise_schedule

    trial = participant.trial
    if participant.arm == Arm.WAITLIST.value and participant.start_date is None:
        participant.start_date = waitlist_start(local_date(now, ZoneInfo(trial.timezone)), trial.settings)
        session.flush()
    materialise_schedule(session, participant, now=now, refresh=False)


def can_cross_over(participant: Participant) -> bool:
    """A waiting-list participant may start treatment once the waiting period and post measure are over."""
    return participant.arm == Arm.WAITLIST.value and participant.status == ParticipantStatus.COMPLETED.value


def cross_over(session: Session, participant: Participant, *, actor: Any = None) -> Any:
    """Offer treatment to a waiting-list participant after the post measure.

    The allocation stays "waitlist" (the analysis is by allocation); the treatment is a
    separate plan flagged ``is_crossover``, proposed here for the therapist to approve.
    """
    from icbt.treatment.services import propose_plan

    if not can_cross_over(participant):
        raise AllocationError(_l("Only waiting-list participants whose waiting period is over can cross over."))
    plan = propose_plan(session, participant, actor=actor, crossover=True)
    record(session, "participant.crossover", actor=actor, target=participant, detail={"plan_id": plan.id})
    from icbt.measures.services import materialise_schedule

    materialise_schedule(session, participant, refresh=False)  # the schedule stays the allocation's
    return plan
