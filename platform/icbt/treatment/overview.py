"""Treatment at a glance for many participants at once (the therapist's caseload).

``treatment_overview`` answers, for a list of participant ids, the current week, the
current module's title, how much handed-in homework waits for review and when the patient
was last active, in four queries whatever the number of participants.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.content.models import ModuleVersion
from icbt.treatment.models import Homework, ModulePlan, PageRead, PlanItem
from icbt.treatment.schedule import local_date, treatment_week
from icbt.trials.models import Participant, Trial

CHUNK = 500  # ids per IN (...): well below every database's parameter limit


@dataclass
class TreatmentOverview:
    participant_id: int
    plan_status: str | None = None  # None (no plan), "proposed", "approved"
    is_crossover: bool = False
    start_date: dt.date | None = None
    week: int = 0  # treatment week in the trial's time zone (0: not started)
    n_modules: int = 0
    current_module_key: str | None = None
    current_module_title: str | None = None
    homework_waiting: int = 0  # handed in, not yet reviewed
    homework_drafts: int = 0
    last_activity_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.plan_status == "approved" and self.week > self.n_modules


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i: i + CHUNK]


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def treatment_overview(session: Session, participant_ids: Iterable[int], *,
                       at: dt.datetime | None = None) -> dict[int, TreatmentOverview]:
    """Overview per participant id. ``at`` is the instant "now" (default: the clock)."""
    from icbt import clock

    ids = sorted(set(participant_ids))
    at = at or clock.now()
    out = {pid: TreatmentOverview(participant_id=pid) for pid in ids}
    if not ids:
        return out
    # 1. Plans with the trial's time zone (a cross-over plan wins over the regular one).
    # Columns, not ORM objects: a plan row carries the engine's proposal (JSON), which
    # the overview does not need and which would be decoded for every patient.
    plans: dict[int, tuple[Any, str]] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(ModulePlan.id, ModulePlan.participant_id, ModulePlan.status, ModulePlan.is_crossover,
                   ModulePlan.start_date, Trial.timezone)
            .join(Participant, Participant.id == ModulePlan.participant_id)
            .join(Trial, Trial.id == Participant.trial_id)
            .where(ModulePlan.participant_id.in_(chunk))
            .order_by(ModulePlan.is_crossover)
        ).all()
        for plan in rows:
            plans[plan.participant_id] = (plan, plan.timezone)
    # 2. Items of those plans with their module titles.
    plan_ids = [plan.id for plan, _ in plans.values()]
    items: dict[int, list[tuple[int, str, str]]] = {}
    for chunk in _chunks(plan_ids):
        for plan_id, position, key, title in session.execute(
            select(PlanItem.plan_id, PlanItem.position, PlanItem.module_key, ModuleVersion.title)
            .join(ModuleVersion, ModuleVersion.id == PlanItem.module_version_id)
            .where(PlanItem.plan_id.in_(chunk))
        ):
            items.setdefault(plan_id, []).append((position, key, title))
    for pid, (plan, tz) in plans.items():
        o = out[pid]
        o.plan_status, o.is_crossover, o.start_date = plan.status, plan.is_crossover, plan.start_date
        plan_items = sorted(items.get(plan.id, []))
        o.n_modules = len(plan_items)
        if plan.status == "approved" and plan.start_date is not None:
            o.week = treatment_week(plan.start_date, local_date(at, tz))
            if o.week >= 1 and plan_items:
                _, o.current_module_key, o.current_module_title = plan_items[min(o.week, len(plan_items)) - 1]
    # 3. Homework by status, and the latest change to any of it.
    for chunk in _chunks(ids):
        for pid, status, n, latest in session.execute(
            select(Homework.participant_id, Homework.status, func.count(), func.max(Homework.updated_at))
            .where(Homework.participant_id.in_(chunk))
            .group_by(Homework.participant_id, Homework.status)
        ):
            o = out[pid]
            if status == "submitted":
                o.homework_waiting = n
            elif status == "draft":
                o.homework_drafts = n
            o.last_activity_at = _later(o.last_activity_at, _aware(latest))
    # 4. The latest page read.
    for chunk in _chunks(ids):
        for pid, latest in session.execute(
            select(PageRead.participant_id, func.max(PageRead.last_read_at))
            .where(PageRead.participant_id.in_(chunk)).group_by(PageRead.participant_id)
        ):
            out[pid].last_activity_at = _later(out[pid].last_activity_at, _aware(latest))
    return out


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Aggregates bypass the column type on SQLite: make them UTC-aware like the columns."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns max() of a datetime column as text
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
