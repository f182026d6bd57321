"""Demo step: intake, allocations, plans, reading and homework for the demo participants.

Runs after the foundation's ``participants`` step and builds, through the real services,
what each participant's stage implies:

- applicant: nothing yet; screened: the screening; eligible / excluded: the assessment too
  (the two eligible ones are left for the admin to randomise for real in the demo);
- randomised, active, completed: their arm recorded as an *imported* allocation (the demo
  chose the arms, not the trial's sequence: the allocation says so in its note);
- treatment arm: the engine's plan (sometimes edited by the therapist, with a reason),
  approved before the start date; week 0 waits for approval; pages read and homework up to
  the current week: most handed in, older ones read by the therapist, some drafts, some behind;
- one waiting-list participant who has finished waiting crosses over into treatment.

Idempotent: a participant's part is built only when it is missing. Deterministic: each
participant's choices come from a generator seeded by their code.
"""
from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from sqlalchemy import select

from icbt.content.services import module_of
from icbt.content.worksheets import validate
from icbt.demo import DemoContext, demo_step
from icbt.intake.services import current_profile, record_assessment, screening_of, submit_screening
from icbt.tailoring.problems import PROBLEM_KEYS
from icbt.treatment.demo_answers import answer_worksheet
from icbt.treatment.models import ModulePlan, PageRead
from icbt.treatment.schedule import treatment_week, unlock_date
from icbt.treatment.services import (
    PlanError, approve_plan, change_plan, hand_in, mark_homework_reviewed, module_keys, propose_plan, save_draft,
)
from icbt.trials.allocation import allocation_of, cross_over, import_allocation
from icbt.trials.models import Participant, ParticipantStatus

PRIMARY_WEIGHTS = {"panic": 20, "social_anxiety": 20, "gad": 25, "health_anxiety": 10, "agoraphobia": 8,
                   "ptsd": 7, "depression": 5, "insomnia": 3, "stress": 2}
COMORBID_WEIGHTS = {"panic": 6, "agoraphobia": 5, "social_anxiety": 6, "gad": 10, "health_anxiety": 4, "ptsd": 2,
                    "depression": 14, "insomnia": 10, "stress": 8}
SEVERITY_RATINGS = {"mild": (4, 6), "moderate": (5, 8), "severe": (7, 10)}
FREE_TEXT = [
    "I want to be able to travel to work without dreading it.",
    "My GP suggested this. I have tried to manage on my own for years.",
    "Mostly I want to sleep better and stop worrying so much.",
    "",
    "I would like to feel like myself again.",
]
EXCLUDED_REASON = "Alcohol use is the main problem at the moment; referred to the local addiction service first."
IMPORT_NOTE = "Demo data: the arm was set by the demo seed, not drawn from the trial's sequence."
UTC = dt.timezone.utc


def _pick(rng: random.Random, weights: dict[str, int], exclude: frozenset[str] | set[str] = frozenset()) -> str:
    keys = [k for k in weights if k not in exclude]
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _profile(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    primary = _pick(rng, PRIMARY_WEIGHTS)
    severity = rng.choices(["mild", "moderate", "severe"], weights=[2, 5, 3])[0]
    comorbid: dict[str, str] = {}
    for _ in range(rng.choices([0, 1, 2, 3], weights=[25, 40, 25, 10])[0]):
        problem = _pick(rng, COMORBID_WEIGHTS, {primary, *comorbid})
        comorbid[problem] = rng.choices(["mild", "moderate", "severe"], weights=[4, 4, 2])[0]
    return primary, severity, comorbid


def _ratings(rng: random.Random, primary: str, severity: str, comorbid: dict[str, str]) -> dict[str, int]:
    ratings = {}
    for key in PROBLEM_KEYS:
        if key == primary:
            lo, hi = SEVERITY_RATINGS[severity]
            ratings[key] = min(10, rng.randint(lo, hi) + 1)
        elif key in comorbid:
            ratings[key] = rng.randint(*SEVERITY_RATINGS[comorbid[key]])
        else:
            ratings[key] = rng.randint(0, 3)
    return ratings


def _at(day: dt.date, tz: str, rng: random.Random, hours: tuple[int, int] = (8, 21)) -> dt.datetime:
    """A moment on ``day`` (local), as UTC."""
    local = dt.datetime.combine(day, dt.time(rng.randint(*hours), rng.randrange(60)), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def _intake(ctx: DemoContext, p: Participant, rng: random.Random, randomised_at: dt.datetime | None) -> None:
    status = p.status
    if status == ParticipantStatus.APPLICANT.value:
        return
    primary, severity, comorbid = _profile(rng)
    base = randomised_at or dt.datetime.combine(ctx.today - dt.timedelta(days=rng.randint(3, 10)), dt.time(10), tzinfo=UTC)
    therapist = p.therapist or ctx.therapists[0]
    if screening_of(ctx.session, p) is None:
        submit_screening(ctx.session, p, ratings=_ratings(rng, primary, severity, comorbid),
                         free_text=rng.choice(FREE_TEXT), actor=p.user, at=base - dt.timedelta(days=14))
        p.status = status  # the foundation's stage wins (submit_screening moves applicants on)
        ctx.count("intake screenings")
    if status == ParticipantStatus.SCREENED.value or current_profile(ctx.session, p) is not None:
        return
    eligible = status != ParticipantStatus.EXCLUDED.value
    p.status = ParticipantStatus.SCREENED.value
    record_assessment(ctx.session, p, actor=therapist, eligible=eligible, primary=primary if eligible else None,
                      severity=severity if eligible else None, comorbid=comorbid if eligible else {},
                      reason="" if eligible else EXCLUDED_REASON, at=base - dt.timedelta(days=7))
    p.status = status
    ctx.count("assessed profiles")


def _plan(ctx: DemoContext, p: Participant, rng: random.Random, *, crossover: bool = False,
          start: dt.date | None = None) -> ModulePlan | None:
    therapist = p.therapist or ctx.therapists[0]
    tz = p.trial.timezone
    start = start or p.start_date
    assert start is not None
    proposed_at = _at(start - dt.timedelta(days=7), tz, rng, (9, 12))
    try:
        plan = (cross_over(ctx.session, p, actor=ctx.admin) if crossover
                else propose_plan(ctx.session, p, actor=therapist, at=proposed_at))
    except PlanError:
        return None
    ctx.count("module plans")
    profile = current_profile(ctx.session, p)
    keys = module_keys(plan)
    edit_at = proposed_at + dt.timedelta(days=1)
    if profile and "depression" in {c["problem"] for c in profile.comorbid} and "activation-1" in keys \
            and keys.index("activation-1") > 2 and rng.random() < 0.7:
        change_plan(ctx.session, plan, actor=therapist, action="move", module_key="activation-1", position=2,
                    reason="Low mood is holding them back most right now, so we start with activity.",
                    today=start - dt.timedelta(days=6), at=edit_at)
    elif len(keys) >= 9 and rng.random() < 0.3:
        change_plan(ctx.session, plan, actor=therapist, action="remove", module_key=keys[-2],
                    reason="Fewer modules and more time to practise; agreed with the patient on the phone.",
                    today=start - dt.timedelta(days=6), at=edit_at)
    if not crossover and treatment_week(start, ctx.today) == 0:
        return plan  # week 0: the proposal waits for the therapist
    approve_plan(ctx.session, plan, actor=therapist, start_date=start, today=start - dt.timedelta(days=5),
                 note="Went through the plan together on the phone.", at=edit_at + dt.timedelta(hours=3))
    return plan


def _activity(ctx: DemoContext, p: Participant, plan: ModulePlan, rng: random.Random) -> None:
    """Pages read and homework up to the current week (all of it once the plan is over)."""
    therapist = p.therapist or ctx.therapists[0]
    tz = p.trial.timezone
    assert plan.start_date is not None
    week = treatment_week(plan.start_date, ctx.today)
    engagement = rng.uniform(0.55, 1.0)
    items = sorted(plan.items, key=lambda i: i.position)
    for item in items[: min(week, len(items))]:
        module = module_of(item.module_version)
        opened = unlock_date(plan.start_date, item.position)
        days = (ctx.today - opened).days  # whole days since it opened (activity stays before today)
        if days < 1:
            continue
        current = item.position == week
        n_pages = len(module.pages)
        if current:
            read = rng.randint(0, n_pages)
        else:
            read = n_pages if rng.random() < engagement + 0.15 else rng.randint(1, n_pages)
        for page in range(1, read + 1):
            # Plain rows (not record_page_read, whose per-row savepoint guards concurrent requests):
            # these are new rows of a new plan, and the demo stays fast.
            at = _at(opened + dt.timedelta(days=min(days - 1, rng.randint(0, 2))), tz, rng)
            ctx.session.add(PageRead(participant_id=p.id, plan_item_id=item.id, page=page, first_read_at=at,
                                     last_read_at=at))
        ctx.count("pages read", read)
        for sheet in module.worksheets:
            if current:
                roll = rng.random() if days >= 2 else 1.0
                submit, draft = roll < 0.3, 0.3 <= roll < 0.65
            else:
                submit = rng.random() < engagement
                draft = not submit and rng.random() < 0.5
            if not (submit or draft):
                continue
            day = opened + dt.timedelta(days=min(days - 1, rng.randint(1, 5)))
            when = _at(day, tz, rng)
            raw = answer_worksheet(module.id, sheet, rng, complete=submit)
            if submit and not validate(sheet, raw)[1]:
                homework = hand_in(ctx.session, p, item, sheet, raw, at=when, actor=p.user).homework
                ctx.count("homework handed in")
                reviewed_day = day + dt.timedelta(days=1)
                old_enough = item.position < week - 1 or (item.position == week - 1 and rng.random() < 0.5)
                if reviewed_day < ctx.today and old_enough:
                    mark_homework_reviewed(ctx.session, homework, therapist, at=_at(reviewed_day, tz, rng, (8, 17)))
            else:
                save_draft(ctx.session, p, item, sheet, raw, at=when, actor=p.user)
                ctx.count("homework drafts")


@demo_step
def treatment(ctx: DemoContext) -> None:
    assert ctx.trial is not None
    participants = sorted(ctx.participants, key=lambda p: p.code)
    crossover_done = ctx.session.scalar(select(ModulePlan.id).where(ModulePlan.is_crossover.is_(True))) is not None
    for p in participants:
        rng = random.Random(f"treatment-demo:{p.code}")
        _intake(ctx, p, rng, p.randomised_at)
        if p.arm is None:
            continue
        if allocation_of(ctx.session, p) is None:
            import_allocation(ctx.session, p, p.arm, note=IMPORT_NOTE, actor=ctx.admin, at=p.randomised_at)
            ctx.count("allocations")
        has_plan = ctx.session.scalar(select(ModulePlan.id).where(ModulePlan.participant_id == p.id)) is not None
        if p.arm == "treatment" and not has_plan and p.start_date is not None:
            plan = _plan(ctx, p, rng)
            if plan is not None and plan.approved:
                _activity(ctx, p, plan, rng)
        elif (p.arm == "waitlist" and not crossover_done and not has_plan
              and p.status == ParticipantStatus.COMPLETED.value):
            plan = _plan(ctx, p, rng, crossover=True, start=ctx.today - dt.timedelta(days=3))
            if plan is not None:
                _activity(ctx, p, plan, rng)
                crossover_done = True
    ctx.session.flush()

