"""Where messaging meets treatment: the homework a message answers, weekly feedback owed.

Until the treatment capability (Homework, ``mark_homework_reviewed``) is present these
answer "nothing to link": no homework choices, no feedback owed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from icbt.trials.models import Participant
from icbt.users.models import User


@dataclass(frozen=True)
class FeedbackOwed:
    participant_id: int
    homework_id: int
    handed_in_at: dt.datetime
    due_at: dt.datetime
    overdue: bool


def homework_choices(session: Session, participant: Participant) -> list[tuple[int, str]]:
    """(homework id, label) of the participant's handed-in homework, newest first."""
    return []


def homework_belongs(session: Session, participant: Participant, homework_id: int) -> bool:
    return False


def module_choices(session: Session, participant: Participant) -> list[tuple[str, str]]:
    """(module id, title) of the modules in the participant's plan."""
    return []


def homework_reviewed(
    session: Session, participant: Participant, homework_id: int | None, therapist: User, message
) -> None:  # type: ignore[no-untyped-def]
    """Feedback was sent on ``homework_id``: mark the homework reviewed."""
    return None


def feedback_owed(
    session: Session, participant_ids: list[int], now: dt.datetime
) -> dict[int, list[FeedbackOwed]]:
    """Per participant id: handed-in homework still waiting for feedback, with due times."""
    return {}


def administrations_answered(session: Session, administration_ids: set[int]) -> dict[int, dt.datetime | None]:
    """Per administration id: when the questionnaire was answered (None if not yet)."""
    from icbt.messaging.questionnaires import administrations_answered as answered

    return answered(session, administration_ids)


def treatment_progress(session: Session, participant_ids: list[int]) -> dict[int, dict]:
    """Per participant id: {"week", "module_title", "homework_waiting", "last_activity"}."""
    return {}


def risk_alert_counts(session: Session, participant_ids: list[int]) -> dict[int, int]:
    """Per participant id: unacknowledged risk alerts (one query, measures capability)."""
    from icbt.measures.services import unacknowledged_alert_counts

    return unacknowledged_alert_counts(session, participant_ids)


def latest_core_om(session: Session, participant_ids: list[int]) -> dict[int, float | None]:
    """Per participant id: the latest CORE-OM clinical score (one query, measures capability)."""
    from icbt.measures.services import latest_core_om_clinical

    return latest_core_om_clinical(session, participant_ids)
