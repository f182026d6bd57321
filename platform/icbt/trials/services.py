"""Trials and participants: creation, lookup and the access scope of each role."""
from __future__ import annotations

import secrets

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from icbt.audit.services import record
from icbt.trials.models import Participant, Trial
from icbt.users.models import Role, User

# No 0/O, 1/I/L: codes are read aloud and typed by staff.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_participant_code(rng: secrets.SystemRandom | None = None, length: int = 6) -> str:
    rng = rng or secrets.SystemRandom()
    return "P-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(length))


def create_trial(session: Session, *, slug: str, name: str, actor: User | None = None, **fields) -> Trial:
    trial = Trial(slug=slug, name=name, **fields)
    session.add(trial)
    session.flush()
    record(session, "trial.create", actor=actor, target=trial)
    return trial


def enrol(
    session: Session,
    trial: Trial,
    user: User,
    *,
    code: str | None = None,
    therapist: User | None = None,
    actor: User | None = None,
) -> Participant:
    if user.role != Role.PATIENT.value:
        raise ValueError("only patient accounts can be enrolled as participants")
    if code is None:
        existing = set(session.scalars(select(Participant.code).where(Participant.trial_id == trial.id)))
        code = new_participant_code()
        while code in existing:
            code = new_participant_code()
    participant = Participant(trial=trial, user=user, code=code, therapist=therapist)
    session.add(participant)
    session.flush()
    record(session, "participant.enrol", actor=actor, target=participant)
    return participant


class AssignmentError(ValueError):
    """The therapist cannot be assigned; the message says why."""


def assign_therapist(session: Session, participant: Participant, therapist: User | None, *,
                     actor: User | None = None) -> bool:
    """Make ``therapist`` (None: nobody) the participant's therapist. The conversation and its
    history stay with the participant, so a replacement therapist reads everything before.
    Returns False when nothing changed."""
    if therapist is not None and (therapist.role != Role.THERAPIST.value or not therapist.active):
        raise AssignmentError("only an active therapist account can be assigned")
    new_id = therapist.id if therapist is not None else None
    if participant.therapist_id == new_id:
        return False
    before = participant.therapist_id
    participant.therapist = therapist
    session.flush()
    record(session, "participant.assign_therapist", actor=actor, target=participant,
           detail={"therapist_id": new_id, "from": before})
    return True


def visible_participants(user: User) -> Select[tuple[Participant]]:
    """The participants ``user`` may see: own record, own caseload, or all (admin)."""
    stmt = select(Participant)
    if user.role == Role.ADMIN.value:
        return stmt
    if user.role == Role.THERAPIST.value:
        return stmt.where(Participant.therapist_id == user.id)
    return stmt.where(Participant.user_id == user.id)


# The patient's pages show the trial and the therapist: one query, not three. Built once
# (every patient page runs it; building a statement costs about as much as running it).
_PARTICIPANT_OF_USER = (
    select(Participant)
    .where(Participant.user_id == bindparam("user_id"))
    .options(joinedload(Participant.trial), joinedload(Participant.therapist))
)


def participant_of_user(session: Session, user: User) -> Participant | None:
    return session.scalar(_PARTICIPANT_OF_USER, {"user_id": user.id})
