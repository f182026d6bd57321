"""Plans, reading and homework: the state changes of the treatment weeks.

Services take the session, flush (never commit) and write an audit line. Dates that
decide what is open ("today") are passed in, counted in the trial's time zone
(``icbt.clock.today(trial.timezone)`` in the views), so every rule here can be tested with any clock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icbt.audit.services import allow_detail_keys, record
from icbt.content import ContentStore
from icbt.content.library import Module, Worksheet
from icbt.content.services import module_of, snapshot_module
from icbt.content.text import clean_user_text
from icbt.content.worksheets import Raw, validate
from icbt.db import utcnow
from icbt.intake.services import current_profile
from icbt.tailoring.engine import Profile, Reason, TrialSettings, propose
from icbt.treatment.models import Homework, ModulePlan, PageRead, PlanChange, PlanItem
from icbt.treatment.schedule import local_date, treatment_week, unlock_date, unlocked_weeks
from icbt.trials.models import Participant, ParticipantStatus

REASON_MIN, REASON_MAX = 3, 1000
MAX_DAYS_AHEAD = 90

allow_detail_keys("crossover", "modules", "start_date")  # declared at the merge with security


class PlanError(ValueError):
    """The plan cannot be changed that way; the message says why (shown to the therapist)."""


class HomeworkLocked(Exception):
    """The worksheet was handed in: it can no longer change."""


def _content(content: ContentStore | None) -> ContentStore:
    if content is not None:
        return content
    from icbt.content import store

    return store()


# ------------------------------------------------------------------ finding plans

def plans_of(session: Session, participant: Participant) -> list[ModulePlan]:
    return list(session.scalars(
        select(ModulePlan).where(ModulePlan.participant_id == participant.id).order_by(ModulePlan.is_crossover)
    ))


def plan_for(session: Session, participant: Participant) -> ModulePlan | None:
    """The plan the patient follows now: a cross-over plan if there is one, else the regular one."""
    plans = plans_of(session, participant)
    return plans[-1] if plans else None


def module_keys(plan: ModulePlan) -> list[str]:
    return [item.module_key for item in sorted(plan.items, key=lambda i: i.position)]


def _item_for(session: Session, plan: ModulePlan, module: Module, position: int, reason: Reason) -> PlanItem:
    version = snapshot_module(session, module)
    item = PlanItem(position=position, module_key=module.id, module_version_id=version.id,
                    module_version=version, version=module.version, content_hash=module.content_hash,
                    reason=reason.to_dict())
    plan.items.append(item)
    return item


# ------------------------------------------------------------------ proposing and changing

def propose_plan(session: Session, participant: Participant, *, actor: Any = None, crossover: bool = False,
                 content: ContentStore | None = None, at: dt.datetime | None = None) -> ModulePlan:
    """Run the tailoring engine on the current profile and store the proposal (status "proposed")."""
    content = _content(content)
    existing = session.scalar(select(ModulePlan).where(
        ModulePlan.participant_id == participant.id, ModulePlan.is_crossover == crossover))
    if existing is not None:
        raise PlanError(_l("This participant already has a plan."))
    profile = current_profile(session, participant)
    if profile is None or not profile.eligible or not profile.primary_problem or not profile.primary_severity:
        raise PlanError(_l("A plan needs an assessed profile with a primary problem."))
    trial = participant.trial
    from icbt.measures.screening import scores_for_tailoring

    proposal = propose(
        Profile.of(profile.primary_problem, profile.primary_severity, profile.comorbid_pairs,
                   scores=scores_for_tailoring(session, participant)),
        TrialSettings(weeks=trial.weeks, module_cap=trial.module_cap),
        content.rules,
    )
    library = content.library()
    at = at or utcnow()
    plan = ModulePlan(participant_id=participant.id, is_crossover=crossover, status="proposed", created_at=at,
                      profile_id=profile.id, proposal=proposal.to_dict(), rules_version=proposal.rules_version)
    try:
        with session.begin_nested():
            session.add(plan)
    except IntegrityError:  # proposed by someone else at the same moment
        raise PlanError(_l("This participant already has a plan.")) from None
    for position, entry in enumerate(proposal.entries, start=1):
        module = library.get(entry.module_id)
        if module is None:  # pragma: no cover - the rules are checked against the library at start-up
            raise PlanError(f"module {entry.module_id!r} is not in the library")
        _item_for(session, plan, module, position, entry.reason)
    session.flush()
    session.add(PlanChange(plan_id=plan.id, actor_id=getattr(actor, "id", None), action="propose", at=at,
                           reason="Proposed by the tailoring engine", modules_after=proposal.module_ids))
    session.flush()
    record(session, "plan.propose", actor=actor, target=plan, participant=participant,
           detail={"crossover": crossover, "modules": len(proposal.entries)})
    return plan


def _lock(session: Session, plan: ModulePlan) -> None:
    """Take the plan's row lock (PostgreSQL) and re-read it: changes to one plan happen one at a time."""
    session.refresh(plan, with_for_update=True)


def frozen_positions(plan: ModulePlan, today: dt.date) -> int:
    """Positions 1..n that are open (by date or early) and so can no longer move."""
    if not plan.approved:
        return 0
    by_date = unlocked_weeks(plan.start_date, today, len(plan.items))
    early = max((i.position for i in plan.items if i.unlocked_early_at is not None), default=0)
    return max(by_date, early)


def _renumber(session: Session, plan: ModulePlan, ordered: list[PlanItem]) -> None:
    # Two steps, because (plan, position) is unique and rows are updated one at a time.
    for i, item in enumerate(ordered, start=1):
        item.position = 1000 + i
    session.flush()
    for i, item in enumerate(ordered, start=1):
        item.position = i
    session.flush()


def change_plan(session: Session, plan: ModulePlan, *, actor: Any, action: str, module_key: str,
                reason: str, today: dt.date, position: int | None = None,
                content: ContentStore | None = None, at: dt.datetime | None = None) -> PlanChange:
    """Add, remove or move one module, with the therapist's reason. Every change is stored.

    Open modules (by date or unlocked early) stay where they are; the fixed first and last
    modules stay first and last.
    """
    content = _content(content)
    rules = content.rules
    _lock(session, plan)
    reason = clean_user_text(reason, REASON_MAX)
    if len(reason) < REASON_MIN:
        raise PlanError(_l("Write the reason for this change."))
    items = sorted(plan.items, key=lambda i: i.position)
    before = [i.module_key for i in items]
    frozen = frozen_positions(plan, today)
    n = len(items)
    first_free = max(frozen + 1, 2 if before and before[0] == rules.first else 1)
    last_free = n - 1 if before and before[-1] == rules.last else n  # last position a movable module may take
    by_key = {i.module_key: i for i in items}
    change = PlanChange(plan_id=plan.id, actor_id=getattr(actor, "id", None), action=action, at=at or utcnow(),
                        module_key=module_key, reason=reason, modules_before=before)
    if module_key in (rules.first, rules.last):
        raise PlanError(_l("The first and last modules are fixed."))
    if action == "add":
        module = content.library().get(module_key)
        if module is None:
            raise PlanError(_l("There is no such module."))
        if module_key in by_key:
            raise PlanError(_l("This module is already in the plan."))
        weeks = plan_weeks(plan)
        if n >= weeks:
            raise PlanError(_l("The plan already has %(n)d modules for %(weeks)d weeks; remove one first.", n=n, weeks=weeks))
        target = last_free + 1 if position is None else position
        if not first_free <= target <= last_free + 1:
            raise PlanError(_l("A new module can go at position %(lo)d to %(hi)d.", lo=first_free, hi=last_free + 1))
        new = _item_for(session, plan, module, 5000,
                        Reason("therapist", note=reason))
        session.flush()
        items.insert(target - 1, new)
        change.to_position = target
    elif action in ("remove", "move"):
        item = by_key.get(module_key)
        if item is None:
            raise PlanError(_l("This module is not in the plan."))
        if item.position <= frozen:
            raise PlanError(_l("This module is already open to the patient and cannot be moved or removed."))
        change.from_position = item.position
        items.remove(item)
        if action == "remove":
            if session.scalar(select(func.count()).select_from(Homework).where(Homework.plan_item_id == item.id)):
                raise PlanError(_l("The patient has already started this module's homework."))
            plan.items.remove(item)
            session.delete(item)
            session.flush()
        else:
            if position is None or not first_free <= position <= last_free:
                raise PlanError(_l("A module can move to position %(lo)d to %(hi)d.", lo=first_free, hi=last_free))
            items.insert(position - 1, item)
            change.to_position = position
    else:
        raise PlanError(f"unknown change {action!r}")
    _renumber(session, plan, items)
    change.modules_after = [i.module_key for i in items]
    session.add(change)
    session.flush()
    record(session, "plan.change", actor=actor, target=plan, participant_id=plan.participant_id,
           detail={"action": action, "module": module_key})
    return change


def plan_weeks(plan: ModulePlan) -> int:
    """How many modules the plan may hold: one a week over the trial's treatment weeks."""
    participant = plan_participant(plan)
    return participant.trial.weeks


def plan_participant(plan: ModulePlan) -> Participant:
    from sqlalchemy.orm import object_session

    session = object_session(plan)
    assert session is not None
    participant = session.get(Participant, plan.participant_id)
    assert participant is not None
    return participant


def approve_plan(session: Session, plan: ModulePlan, *, actor: Any, start_date: dt.date, today: dt.date,
                 note: str = "", at: dt.datetime | None = None) -> PlanChange:
    """Approve a proposed plan with the date its first module opens."""
    _lock(session, plan)
    if plan.approved:
        raise PlanError(_l("The plan is already approved."))
    if not plan.items:
        raise PlanError(_l("The plan has no modules."))
    if start_date < today:
        raise PlanError(_l("The start date cannot be in the past."))
    if start_date > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise PlanError(_l("The start date must be within %(n)d days.", n=MAX_DAYS_AHEAD))
    participant = plan_participant(plan)
    at = at or utcnow()
    plan.status = "approved"
    plan.approved_at = at
    plan.approved_by_id = getattr(actor, "id", None)
    plan.start_date = start_date
    if not plan.is_crossover and participant.start_date is None:
        participant.start_date = start_date
    # Randomised -> in the programme; a waiting-list participant crossing over starts again.
    if participant.status == ParticipantStatus.RANDOMISED.value or (
            plan.is_crossover and participant.status == ParticipantStatus.COMPLETED.value):
        participant.status = ParticipantStatus.ACTIVE.value
    keys = module_keys(plan)
    change = PlanChange(plan_id=plan.id, actor_id=getattr(actor, "id", None), action="approve", at=at,
                        reason=clean_user_text(note, REASON_MAX) or "Approved", modules_before=keys,
                        modules_after=keys)
    session.add(change)
    session.flush()
    record(session, "plan.approve", actor=actor, target=plan, participant=participant,
           detail={"start_date": start_date.isoformat(), "crossover": plan.is_crossover})
    from icbt.measures.services import materialise_schedule

    # The start date places the pre, week-3 and post questionnaires (windows open and are
    # announced by the periodic task).
    materialise_schedule(session, participant, now=at, refresh=False)
    return change


def item_is_open(plan: ModulePlan, item: PlanItem, today: dt.date) -> bool:
    if not plan.approved or plan.start_date is None:
        return False
    return item.unlocked_early_at is not None or item.position <= unlocked_weeks(plan.start_date, today)


def unlock_early(session: Session, item: PlanItem, *, actor: Any, reason: str, today: dt.date,
                 at: dt.datetime | None = None) -> PlanChange:
    """Open a module before its week (the therapist's decision, with a reason)."""
    plan = item.plan
    _lock(session, plan)
    session.refresh(item)
    reason = clean_user_text(reason, REASON_MAX)
    if len(reason) < REASON_MIN:
        raise PlanError(_l("Write the reason for opening this module early."))
    if not plan.approved:
        raise PlanError(_l("Approve the plan first."))
    if item_is_open(plan, item, today):
        raise PlanError(_l("This module is already open."))
    item.unlocked_early_at = at or utcnow()
    item.unlocked_early_by_id = getattr(actor, "id", None)
    keys = module_keys(plan)
    change = PlanChange(plan_id=plan.id, actor_id=getattr(actor, "id", None), action="unlock",
                        module_key=item.module_key, from_position=item.position, reason=reason,
                        modules_before=keys, modules_after=keys)
    session.add(change)
    session.flush()
    record(session, "plan.unlock_early", actor=actor, target=plan, participant_id=plan.participant_id,
           detail={"module": item.module_key})
    return change


# ------------------------------------------------------------------ reading

LAST_READ_RESOLUTION = 5 * 60  # seconds


def record_page_read(session: Session, participant: Participant, item: PlanItem, page: int,
                     *, at: dt.datetime | None = None) -> PageRead:
    at = at or utcnow()
    stmt = select(PageRead).where(PageRead.plan_item_id == item.id, PageRead.page == page)
    read = session.scalar(stmt)
    if read is None:
        read = PageRead(participant_id=participant.id, plan_item_id=item.id, page=page, first_read_at=at, last_read_at=at)
        try:
            with session.begin_nested():
                session.add(read)
            return read
        except IntegrityError:  # the same page opened twice at once
            read = session.scalar(stmt)
            assert read is not None
    # The last read feeds "last active" (days): rewritten at most every few minutes, so that
    # re-reading a page is not a write (and does not change the patient's cached pages).
    last = read.last_read_at
    if last is None or abs((at - last).total_seconds()) >= LAST_READ_RESOLUTION:
        read.last_read_at = at
        session.flush()
    return read


# ------------------------------------------------------------------ homework

def get_homework(session: Session, item: PlanItem, worksheet_id: str, *, lock: bool = False) -> Homework | None:
    stmt = select(Homework).where(Homework.plan_item_id == item.id, Homework.worksheet_id == worksheet_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _homework_row(session: Session, participant: Participant, item: PlanItem, worksheet: Worksheet,
                  at: dt.datetime) -> Homework:
    """The homework row, locked for this transaction, created if it does not exist yet."""
    homework = get_homework(session, item, worksheet.id, lock=True)
    if homework is not None:
        return homework
    homework = Homework(participant_id=participant.id, plan_item_id=item.id, worksheet_id=worksheet.id,
                        status="draft", data={}, created_at=at, updated_at=at)
    try:
        with session.begin_nested():
            session.add(homework)
    except IntegrityError:  # created by a concurrent request: use that one
        homework = get_homework(session, item, worksheet.id, lock=True)
        assert homework is not None
    return homework


def save_draft(session: Session, participant: Participant, item: PlanItem, worksheet: Worksheet, raw: Raw,
               *, at: dt.datetime | None = None, actor: Any = None) -> Homework:
    """Keep what the patient has typed so far. Refused (``HomeworkLocked``) once handed in."""
    at = at or utcnow()
    homework = _homework_row(session, participant, item, worksheet, at)
    if homework.handed_in:
        raise HomeworkLocked()
    homework.data = raw
    homework.updated_at = at
    session.flush()
    record(session, "homework.draft_save", actor=actor, target=homework, participant=participant)
    return homework


@dataclass
class HandInResult:
    homework: Homework
    errors: dict[str, str] = field(default_factory=dict)
    submitted_now: bool = False  # False: invalid (kept as a draft) or handed in before

    @property
    def already(self) -> bool:
        return not self.errors and not self.submitted_now


def hand_in(session: Session, participant: Participant, item: PlanItem, worksheet: Worksheet, raw: Raw,
            *, key: str | None = None, at: dt.datetime | None = None, actor: Any = None) -> HandInResult:
    """Hand in a worksheet once. A repeat (double click, second tab) changes nothing.

    Invalid answers are kept as the draft, and the errors come back per field.
    """
    at = at or utcnow()
    homework = _homework_row(session, participant, item, worksheet, at)
    if homework.handed_in:
        return HandInResult(homework)
    data, errors = validate(worksheet, raw)
    if errors:
        homework.data = raw
        homework.updated_at = at
        session.flush()
        record(session, "homework.draft_save", actor=actor, target=homework, participant=participant)
        return HandInResult(homework, errors=errors)
    homework.data = data
    homework.status = "submitted"
    homework.submitted_at = at
    homework.updated_at = at
    homework.submission_key = clean_user_text(key, 64, multiline=False) or None
    session.flush()
    record(session, "homework.submit", actor=actor, target=homework, participant=participant)
    return HandInResult(homework, submitted_now=True)


def mark_homework_reviewed(session: Session, homework: Homework, therapist: Any, *,
                           at: dt.datetime | None = None) -> bool:
    """Mark handed-in homework as reviewed (the messaging work calls this with its feedback).

    Returns True when it changed, False when it was already reviewed. A draft cannot be reviewed.
    """
    if homework.status == "reviewed":
        return False
    if homework.status != "submitted":
        raise HomeworkLocked("only handed-in homework can be reviewed")
    homework.status = "reviewed"
    homework.reviewed_at = at or utcnow()
    homework.reviewed_by_id = getattr(therapist, "id", None)
    session.flush()
    record(session, "homework.review", actor=therapist, target=homework, participant_id=homework.participant_id)
    return True


def handed_in_homework(session: Session, participant: Participant) -> list[Homework]:
    return list(session.scalars(
        select(Homework).where(Homework.participant_id == participant.id, Homework.status != "draft")
        .order_by(Homework.submitted_at.desc())
    ))


# ------------------------------------------------------------------ progress (for pages)

@dataclass
class ItemProgress:
    item: PlanItem
    module: Module
    unlock_date: dt.date | None
    is_open: bool
    pages_read: int
    homework: dict[str, Homework]

    @property
    def pages_total(self) -> int:
        return len(self.module.pages)

    @property
    def worksheets_total(self) -> int:
        return len(self.module.worksheets)

    @property
    def handed_in(self) -> int:
        return sum(1 for h in self.homework.values() if h.handed_in)

    @property
    def drafts(self) -> int:
        return sum(1 for h in self.homework.values() if h.status == "draft")

    @property
    def done(self) -> bool:
        return self.handed_in >= self.worksheets_total

    @property
    def opened_early(self) -> bool:
        return self.item.unlocked_early_at is not None


@dataclass
class PlanProgress:
    plan: ModulePlan
    today: dt.date
    items: list[ItemProgress]

    @property
    def week(self) -> int:
        return treatment_week(self.plan.start_date, self.today) if self.plan.approved else 0

    @property
    def current(self) -> ItemProgress | None:
        """The module of the current week (the last one once the plan is over)."""
        if self.week < 1 or not self.items:
            return None
        return self.items[min(self.week, len(self.items)) - 1]

    @property
    def next_locked(self) -> ItemProgress | None:
        return next((p for p in self.items if not p.is_open), None)

    @property
    def finished(self) -> bool:
        return self.plan.approved and self.week > len(self.items)

    @property
    def behind(self) -> list[ItemProgress]:
        """Modules from earlier weeks whose homework is not all handed in."""
        return [p for p in self.items if p.is_open and p.item.position < self.week and not p.done]

    @property
    def pages_read(self) -> int:
        return sum(p.pages_read for p in self.items)

    @property
    def pages_total(self) -> int:
        return sum(p.pages_total for p in self.items)


def plan_progress(session: Session, plan: ModulePlan, today: dt.date) -> PlanProgress:
    """Everything the plan pages show, in three queries (items, reads, homework)."""
    items = sorted(plan.items, key=lambda i: i.position)
    ids = [i.id for i in items]
    reads: dict[int, int] = {}
    homework: dict[int, dict[str, Homework]] = {}
    if ids:
        reads = dict(session.execute(
            select(PageRead.plan_item_id, func.count()).where(PageRead.plan_item_id.in_(ids))
            .group_by(PageRead.plan_item_id)
        ).all())
        for hw in session.scalars(select(Homework).where(Homework.plan_item_id.in_(ids))):
            homework.setdefault(hw.plan_item_id, {})[hw.worksheet_id] = hw
    progress = []
    for item in items:
        module = module_of(item.module_version)
        progress.append(ItemProgress(
            item=item, module=module,
            unlock_date=unlock_date(plan.start_date, item.position) if plan.start_date else None,
            is_open=item_is_open(plan, item, today), pages_read=reads.get(item.id, 0),
            homework=homework.get(item.id, {}),
        ))
    return PlanProgress(plan=plan, today=today, items=progress)


def current_week(session: Session, participant: Participant, *, at: dt.datetime | None = None) -> int:
    """The participant's treatment week today in the trial's time zone (0: no approved plan or not started)."""
    plan = plan_for(session, participant)
    if plan is None or not plan.approved:
        return 0
    return treatment_week(plan.start_date, local_date(at or utcnow(), participant.trial.timezone))
