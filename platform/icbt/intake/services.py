"""Intake: storing the screening and the assessed profile, and moving the participant's status.

applicant --(screening complete)--> screened --(assessment)--> eligible | excluded
A re-assessment before randomisation adds a new profile (the latest counts); after
randomisation the profile is fixed, because the allocation and the plan were built on it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.content.text import clean_user_text
from icbt.db import utcnow
from icbt.intake.models import AssessedProfile, IntakeScreening
from icbt.tailoring.problems import PROBLEM_KEYS, SEVERITIES
from icbt.trials.models import Participant, ParticipantStatus

RATING_MIN, RATING_MAX = 0, 10
FREE_TEXT_MAX = 4000
REASON_MAX = 2000


class IntakeError(ValueError):
    """The intake step cannot be taken now; the message says why."""


# Further parts of the screening battery register here (e.g. the measures work adds
# "GAD-7 and PHQ-9 answered"): each is called with (session, participant) and returns
# True when that part is done. The participant becomes "screened" when all are done.
ScreeningPart = Callable[[Session, Participant], bool]
SCREENING_PARTS: list[ScreeningPart] = []


def screening_of(session: Session, participant: Participant) -> IntakeScreening | None:
    return session.scalar(select(IntakeScreening).where(IntakeScreening.participant_id == participant.id))


def screening_complete(session: Session, participant: Participant) -> bool:
    if screening_of(session, participant) is None:
        return False
    return all(part(session, participant) for part in SCREENING_PARTS)


def update_screening_status(session: Session, participant: Participant, *, actor: Any = None) -> None:
    """applicant -> screened once every part of the screening is in."""
    if participant.status == ParticipantStatus.APPLICANT.value and screening_complete(session, participant):
        participant.status = ParticipantStatus.SCREENED.value
        session.flush()
        record(session, "participant.status", actor=actor, target=participant, detail={"status": "screened"})


def submit_screening(session: Session, participant: Participant, *, ratings: Mapping[str, int],
                     free_text: str = "", actor: Any = None, at: dt.datetime | None = None) -> tuple[IntakeScreening, bool]:
    """Store the patient's screening once. Returns (screening, created); a repeat returns the first."""
    existing = screening_of(session, participant)
    if existing is not None:
        return existing, False
    clean: dict[str, int] = {}
    for key in PROBLEM_KEYS:
        value = ratings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
            raise IntakeError(f"rating for {key!r} must be a whole number {RATING_MIN}-{RATING_MAX}")
        clean[key] = value
    screening = IntakeScreening(participant_id=participant.id, ratings=clean,
                                free_text=clean_user_text(free_text, FREE_TEXT_MAX), submitted_at=at or utcnow())
    try:
        with session.begin_nested():
            session.add(screening)
    except IntegrityError:  # the same form sent twice at once: keep the first
        first = screening_of(session, participant)
        assert first is not None
        return first, False
    record(session, "intake.screening_submit", actor=actor, target=screening, participant=participant)
    update_screening_status(session, participant, actor=actor)
    return screening, True


def current_profile(session: Session, participant: Participant) -> AssessedProfile | None:
    return session.scalar(
        select(AssessedProfile).where(AssessedProfile.participant_id == participant.id)
        .order_by(AssessedProfile.id.desc()).limit(1)
    )


def profile_history(session: Session, participant: Participant) -> list[AssessedProfile]:
    return list(session.scalars(
        select(AssessedProfile).where(AssessedProfile.participant_id == participant.id).order_by(AssessedProfile.id)
    ))


ASSESSABLE = (ParticipantStatus.SCREENED.value, ParticipantStatus.ELIGIBLE.value, ParticipantStatus.EXCLUDED.value)


def record_assessment(session: Session, participant: Participant, *, actor: Any, eligible: bool,
                      primary: str | None, severity: str | None, comorbid: Mapping[str, str] | None = None,
                      reason: str = "", at: dt.datetime | None = None) -> AssessedProfile:
    """Store the therapist's assessed profile and move the status to eligible or excluded."""
    if participant.status not in ASSESSABLE:
        if participant.status == ParticipantStatus.APPLICANT.value:
            raise IntakeError("the screening is not complete yet")
        raise IntakeError("the participant is already randomised; the profile can no longer change")
    comorbid = dict(comorbid or {})
    reason = clean_user_text(reason, REASON_MAX)
    if primary is not None and primary not in PROBLEM_KEYS:
        raise IntakeError(f"unknown problem {primary!r}")
    if severity is not None and severity not in SEVERITIES:
        raise IntakeError(f"unknown severity {severity!r}")
    if eligible and (primary is None or severity is None):
        raise IntakeError("an eligible participant needs a primary problem and its severity")
    if not eligible and not reason:
        raise IntakeError("say why the participant is not eligible")
    if primary in comorbid:
        raise IntakeError("the primary problem cannot also be comorbid")
    for key, sev in comorbid.items():
        if key not in PROBLEM_KEYS or sev not in SEVERITIES:
            raise IntakeError(f"unknown comorbid problem or severity: {key!r} {sev!r}")
    profile = AssessedProfile(
        participant_id=participant.id, primary_problem=primary, primary_severity=severity,
        comorbid=[{"problem": k, "severity": comorbid[k]} for k in PROBLEM_KEYS if k in comorbid],
        eligible=eligible, reason=reason, assessed_by_id=getattr(actor, "id", None), assessed_at=at or utcnow(),
    )
    session.add(profile)
    participant.status = (ParticipantStatus.ELIGIBLE if eligible else ParticipantStatus.EXCLUDED).value
    session.flush()
    record(session, "intake.assessment", actor=actor, target=profile, participant=participant,
           detail={"status": participant.status})
    return profile
