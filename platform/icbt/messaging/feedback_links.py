"""Where messaging meets treatment and measures: the homework or module a message answers,
weekly feedback owed, and the per-patient facts the caseload shows. Every function here
takes a list of ids and answers in a fixed number of queries.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from icbt.content.models import ModuleVersion
from icbt.messaging.feedback import feedback_due_at, trial_feedback_rules
from icbt.treatment.models import Homework, ModulePlan, PlanItem
from icbt.trials.models import Participant, Trial
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
    rows = session.execute(
        select(Homework.id, Homework.status, Homework.submitted_at, PlanItem.position, ModuleVersion.title)
        .join(PlanItem, PlanItem.id == Homework.plan_item_id)
        .join(ModuleVersion, ModuleVersion.id == PlanItem.module_version_id)
        .where(Homework.participant_id == participant.id, Homework.status != "draft")
        .order_by(Homework.submitted_at.desc(), Homework.id.desc())
    ).all()
    out = []
    for hid, status, submitted_at, position, title in rows:
        handed = submitted_at.date().isoformat() if submitted_at else ""
        out.append((hid, str(_l("Homework, week %(week)d: %(title)s (%(date)s)", week=position, title=title,
                                date=handed))))
    return out


def homework_belongs(session: Session, participant: Participant, homework_id: int) -> bool:
    return session.scalar(
        select(Homework.id).where(
            Homework.id == homework_id, Homework.participant_id == participant.id, Homework.status != "draft"
        )
    ) is not None


def module_choices(session: Session, participant: Participant) -> list[tuple[str, str]]:
    """(module key, title) of the modules in the participant's plans, in plan order."""
    rows = session.execute(
        select(PlanItem.module_key, ModuleVersion.title)
        .join(ModulePlan, ModulePlan.id == PlanItem.plan_id)
        .join(ModuleVersion, ModuleVersion.id == PlanItem.module_version_id)
        .where(ModulePlan.participant_id == participant.id)
        .order_by(ModulePlan.is_crossover, PlanItem.position)
    ).all()
    seen: dict[str, str] = {}
    for key, title in rows:
        seen.setdefault(key, str(_l("Module: %(title)s", title=title)))
    return list(seen.items())


def homework_reviewed(
    session: Session, participant: Participant, homework_id: int | None, therapist: User, message
) -> None:  # type: ignore[no-untyped-def]
    """Feedback was sent on ``homework_id``: mark the homework reviewed (once)."""
    from icbt.treatment.services import mark_homework_reviewed

    if homework_id is None:
        return
    homework = session.get(Homework, homework_id)
    if homework is None or homework.participant_id != participant.id or homework.status == "draft":
        return
    mark_homework_reviewed(session, homework, therapist, at=message.sent_at)


def feedback_owed(
    session: Session, participant_ids: list[int], now: dt.datetime
) -> dict[int, list[FeedbackOwed]]:
    """Per participant id: handed-in homework not yet reviewed, with its due time in the
    trial's working days (one query)."""
    if not participant_ids:
        return {}
    rows = session.execute(
        select(Homework.participant_id, Homework.id, Homework.submitted_at, Trial)
        .join(Participant, Participant.id == Homework.participant_id)
        .join(Trial, Trial.id == Participant.trial_id)
        .where(Homework.participant_id.in_(participant_ids), Homework.status == "submitted")
        .order_by(Homework.submitted_at)
    ).all()
    out: dict[int, list[FeedbackOwed]] = {}
    for pid, hid, submitted_at, trial in rows:
        if submitted_at is None:
            continue
        days, zone, holidays = trial_feedback_rules(trial)
        due = feedback_due_at(submitted_at, days, zone, holidays)
        out.setdefault(pid, []).append(FeedbackOwed(pid, hid, submitted_at, due, now >= due))
    return out


def administrations_answered(session: Session, administration_ids: set[int]) -> dict[int, dt.datetime | None]:
    """Per administration id: when the questionnaire was answered (None if not yet)."""
    from icbt.messaging.questionnaires import administrations_answered as answered

    return answered(session, administration_ids)


def treatment_progress(session: Session, participant_ids: list[int], now: dt.datetime | None = None) -> dict[int, dict]:
    """Per participant id: {"week", "module_title", "homework_waiting", "last_activity"}
    (the treatment capability's bounded overview)."""
    from icbt.treatment.overview import treatment_overview

    overview = treatment_overview(session, participant_ids, at=now)
    return {
        pid: {
            "week": o.week if o.plan_status == "approved" else None,
            "module_title": o.current_module_title,
            "homework_waiting": o.homework_waiting,
            "last_activity": o.last_activity_at,
        }
        for pid, o in overview.items()
    }


def risk_alert_counts(session: Session, participant_ids: list[int]) -> dict[int, int]:
    """Per participant id: unacknowledged risk alerts (one query, measures capability)."""
    from icbt.measures.services import unacknowledged_alert_counts

    return unacknowledged_alert_counts(session, participant_ids)


def latest_core_om(session: Session, participant_ids: list[int]) -> dict[int, float | None]:
    """Per participant id: the latest CORE-OM clinical score (one query, measures capability)."""
    from icbt.measures.services import latest_core_om_clinical

    return latest_core_om_clinical(session, participant_ids)
