"""A realistic, deterministic demo trial.

``seed_demo`` runs a list of steps; each capability adds its own step (treatment plans,
measurements, messages...). Every step is idempotent: it looks for what it would create
and creates only what is missing, so re-running ``demo`` neither duplicates nor destroys.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.trials.models import Arm, Participant, ParticipantStatus, Trial
from icbt.trials.services import CODE_ALPHABET, create_trial, enrol
from icbt.users.models import Role, User
from icbt.users.services import create_user, get_user_by_email

DEMO_PASSWORD = "calm-harbour-2026"
DEMO_TRIAL_SLUG = "demo"
N_PARTICIPANTS = 54

FIRST_NAMES = [
    "Alva", "Elias", "Maja", "Noah", "Ebba", "Hugo", "Saga", "Liam", "Wilma", "Oscar", "Freja", "Adam",
    "Selma", "Lucas", "Agnes", "William", "Ines", "Leo", "Tyra", "Arvid", "Nora", "Melvin", "Stella",
    "Viggo", "Edith", "Axel", "Juni", "Malte", "Ellen", "Sixten", "Vera", "Isak", "Alice", "Otto",
]
LAST_NAMES = [
    "Lind", "Berg", "Holm", "Sand", "Ek", "Strand", "Dahl", "Falk", "Nyberg", "Sjö", "Wall", "Lund",
    "Hed", "Forsberg", "Kvist", "Ros", "Bergqvist", "Vik", "Alm", "Blom",
]


@dataclass
class DemoContext:
    session: Session
    rng: random.Random
    today: dt.date
    trial: Trial | None = None
    admin: User | None = None
    therapists: list[User] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


@dataclass
class DemoSummary:
    created: dict[str, int]
    logins: list[tuple[str, str]]

    def lines(self) -> list[str]:
        made = ", ".join(f"{n} {what}" for what, n in sorted(self.created.items())) or "nothing new"
        out = [f"Demo trial ready (created: {made})."]
        out += [f"  {role:<10} {email}" for role, email in self.logins]
        return out


DemoStep = Callable[[DemoContext], None]
DEMO_STEPS: list[DemoStep] = []


def demo_step(fn: DemoStep) -> DemoStep:
    """Register a step; steps run in registration order."""
    DEMO_STEPS.append(fn)
    return fn


def database_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(User))


def _user(ctx: DemoContext, email: str, role: Role, name: str) -> User:
    user = get_user_by_email(ctx.session, email)
    if user is None:
        user = create_user(ctx.session, email=email, password=DEMO_PASSWORD, role=role, display_name=name)
        ctx.count(f"{role.value} accounts")
    return user


@demo_step
def people_and_trial(ctx: DemoContext) -> None:
    ctx.admin = _user(ctx, "admin@demo.example", Role.ADMIN, "Ada Admin")
    ctx.therapists = [
        _user(ctx, f"therapist{i}@demo.example", Role.THERAPIST, name)
        for i, name in enumerate(["Tove Terapeut", "Jonas Rådgivare", "Mira Lyhörd"], start=1)
    ]
    trial = ctx.session.scalar(select(Trial).where(Trial.slug == DEMO_TRIAL_SLUG))
    if trial is None:
        trial = create_trial(
            ctx.session,
            slug=DEMO_TRIAL_SLUG,
            name="Tailored ICBT for anxiety – demo trial",
            timezone="Europe/Stockholm",
            weeks=10,
            module_cap=10,
            settings={"randomisation_seed": ctx.rng.randrange(1, 2**31)},
            actor=ctx.admin,
        )
        ctx.count("trials")
    ctx.trial = trial


def _stage_plan(rng: random.Random, n: int) -> list[dict]:
    """The stage of each demo participant: a few in intake, the rest randomised 1:1."""
    plan: list[dict] = []
    intake = ["applicant", "screened", "eligible", "eligible", "applicant", "excluded"]
    for status in intake:
        plan.append({"status": status, "arm": None, "week": None})
    randomised = n - len(intake)
    arms = [Arm.TREATMENT.value, Arm.WAITLIST.value] * (randomised // 2)
    rng.shuffle(arms)
    # Treatment weeks spread over the programme: 0 = starts next week, 11+ = finished.
    weeks = [0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    for i, arm in enumerate(arms):
        week = weeks[i % len(weeks)]
        status = (
            ParticipantStatus.RANDOMISED.value if week == 0
            else ParticipantStatus.COMPLETED.value if week > 10
            else ParticipantStatus.ACTIVE.value
        )
        plan.append({"status": status, "arm": arm, "week": week})
    return plan


@demo_step
def participants(ctx: DemoContext) -> None:
    assert ctx.trial is not None
    plan = _stage_plan(ctx.rng, N_PARTICIPANTS)
    code_rng = random.Random(ctx.rng.random())
    for i, stage in enumerate(plan, start=1):
        first = FIRST_NAMES[(i * 7) % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 11) % len(LAST_NAMES)]
        email = f"patient{i:02d}@demo.example"
        code = "P-" + "".join(code_rng.choice(CODE_ALPHABET) for _ in range(6))
        user = _user(ctx, email, Role.PATIENT, f"{first} {last}")
        participant = ctx.session.scalar(select(Participant).where(Participant.user_id == user.id))
        if participant is None:
            therapist = ctx.therapists[i % len(ctx.therapists)] if stage["status"] != "applicant" else None
            participant = enrol(ctx.session, ctx.trial, user, code=code, therapist=therapist, actor=ctx.admin)
            participant.status = stage["status"]
            participant.arm = stage["arm"]
            if stage["week"] is not None:
                # Week w of treatment means the start date was (w - 1) weeks and a few days ago.
                days = (stage["week"] - 1) * 7 + ctx.rng.randrange(0, 7) if stage["week"] > 0 else -ctx.rng.randrange(1, 7)
                participant.start_date = ctx.today - dt.timedelta(days=days)
                participant.randomised_at = dt.datetime.combine(
                    participant.start_date - dt.timedelta(days=7), dt.time(9, 0), tzinfo=dt.timezone.utc
                )
            ctx.count("participants")
        ctx.participants.append(participant)
    ctx.session.flush()


def seed_demo(session: Session, *, seed: int = 2026, today: dt.date | None = None) -> DemoSummary:
    ctx = DemoContext(session=session, rng=random.Random(seed), today=today or dt.date.today())
    for step in DEMO_STEPS:
        step(ctx)
        session.flush()
    logins = [("admin", "admin@demo.example")]
    logins += [("therapist", t.email) for t in ctx.therapists]
    logins += [("patient", "patient07@demo.example"), ("patient", "patient10@demo.example"), ("patient", "…patient54@demo.example")]
    return DemoSummary(created=ctx.created, logins=logins)


# Each capability's demo step registers itself on import (order = registration order).
from icbt.measures import demo as _measures_demo  # noqa: E402,F401
