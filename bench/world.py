"""The data the benchmarks run on: the demo trial plus one therapist with a large caseload.

``build_world(session, n_patients)`` seeds the demo trial (``icbt.demo.seed_demo``) and a
bench therapist whose caseload holds ``n_patients`` synthetic patients in every stage;
``grow_caseload(session, world, n)`` adds more to the same caseload (10 -> 200 for the
query counts). The demo steps that capabilities register after ``participants`` (plans,
measurements, messages...) are run for the synthetic patients too, so that their pages
have realistic content without any change here. Deterministic: fixed seeds.

All synthetic accounts share one password hash (computed once), so seeding 200 patients
costs one hash, not 200.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt import clock
from icbt.security import second_factor
from icbt.demo import DEMO_PASSWORD, DEMO_STEPS, DemoContext, seed_demo
from icbt.trials.models import Arm, Participant, ParticipantStatus, Trial
from icbt.trials.services import enrol
from icbt.users.models import Role, User
from icbt.users.passwords import hash_password
from icbt.users.services import new_session_token

BENCH_THERAPIST = "bench-therapist@bench.example"
ADMIN = "admin@demo.example"
DEMO_THERAPISTS = ("therapist1@demo.example", "therapist2@demo.example", "therapist3@demo.example")
# Stages of the synthetic patients, cycled: mostly in treatment, some in every other stage.
STAGES = [
    (ParticipantStatus.ACTIVE, Arm.TREATMENT), (ParticipantStatus.ACTIVE, Arm.WAITLIST),
    (ParticipantStatus.ACTIVE, Arm.TREATMENT), (ParticipantStatus.RANDOMISED, Arm.TREATMENT),
    (ParticipantStatus.COMPLETED, Arm.TREATMENT), (ParticipantStatus.ACTIVE, Arm.WAITLIST),
    (ParticipantStatus.ELIGIBLE, None), (ParticipantStatus.SCREENED, None),
    (ParticipantStatus.COMPLETED, Arm.WAITLIST), (ParticipantStatus.ACTIVE, Arm.TREATMENT),
]


@dataclass
class World:
    """Who logs in where, and the ids the page addresses need (``Page.path`` placeholders)."""

    password: str
    admin_email: str
    therapist_email: str  # holds the large caseload
    patient_email: str  # a patient in that caseload, in treatment
    participant_id: int  # that patient's participant id
    n_patients: int
    module_item_id: int = 0  # an open module (plan item, week 1) of that patient's approved plan
    patient_emails: list[str] = field(default_factory=list)
    therapist_emails: list[str] = field(default_factory=list)

    def email_for(self, role: str) -> str:
        return {"patient": self.patient_email, "therapist": self.therapist_email, "admin": self.admin_email}[role]

    def format(self, template: str) -> str:
        return template.format(**vars(self))


def second_factor_codes(email: str, now: dt.datetime | None = None) -> list[str]:
    """TOTP codes to try, in order, for a bench or demo staff account (fixed secrets): the
    current step's, then the next one's (accepted too, so that the same account can log in
    twice within one 30-second step; each code is single-use)."""
    from icbt.db import utcnow
    from icbt.security import second_factor

    secret = second_factor.demo_secret(email)
    step = second_factor.step_of(now or utcnow())
    return [second_factor.code_at(secret, step), second_factor.code_at(secret, step + 1)]


def _caseload_size(session: Session, therapist: User) -> int:
    return session.scalar(select(func.count()).select_from(Participant).where(Participant.therapist_id == therapist.id)) or 0


def build_world(session: Session, n_patients: int, *, seed: int = 2026) -> World:
    seed_demo(session, seed=seed)
    trial = session.scalar(select(Trial).order_by(Trial.id))
    assert trial is not None
    admin = session.scalar(select(User).where(User.email == ADMIN))
    therapist = session.scalar(select(User).where(User.email == BENCH_THERAPIST))
    if therapist is None:
        therapist = User(email=BENCH_THERAPIST, display_name="Bea Benchmark", role=Role.THERAPIST.value,
                         password_hash=hash_password(DEMO_PASSWORD), session_token=new_session_token())
        session.add(therapist)
        session.flush()
    if not second_factor.is_enrolled(session, therapist):
        # Staff log in with a second factor; the bench therapist has a fixed key like the
        # demo staff (bench/client.py computes its codes).
        second_factor.set_secret(session, therapist, second_factor.demo_secret(BENCH_THERAPIST), now=clock.now())
    world = World(password=DEMO_PASSWORD, admin_email=ADMIN, therapist_email=BENCH_THERAPIST,
                  patient_email="", participant_id=0, n_patients=0,
                  therapist_emails=[BENCH_THERAPIST, *DEMO_THERAPISTS])
    grow_caseload(session, world, n_patients - _caseload_size(session, therapist), trial=trial, admin=admin,
                  therapist=therapist, seed=seed)
    return world


def grow_caseload(session: Session, world: World, n: int, *, trial: Trial | None = None, admin: User | None = None,
                  therapist: User | None = None, seed: int = 2026) -> World:
    """Add ``n`` synthetic patients to the bench therapist's caseload; ``world`` is updated."""
    trial = trial or session.scalar(select(Trial).order_by(Trial.id))
    admin = admin or session.scalar(select(User).where(User.email == world.admin_email))
    therapist = therapist or session.scalar(select(User).where(User.email == world.therapist_email))
    assert trial is not None and therapist is not None
    start = _caseload_size(session, therapist)
    password_hash = hash_password(world.password)
    today = clock.today(trial.timezone)
    rng = random.Random(seed * 1000 + start)
    added: list[Participant] = []
    for i in range(start + 1, start + n + 1):
        user = User(email=f"bench-patient{i:04d}@bench.example", display_name=f"Bench Patient {i}",
                    role=Role.PATIENT.value, password_hash=password_hash, session_token=new_session_token())
        session.add(user)
        session.flush()
        participant = enrol(session, trial, user, therapist=therapist, actor=admin)
        status, arm = STAGES[(i - 1) % len(STAGES)]
        participant.status = status.value
        participant.arm = arm.value if arm else None
        if arm is not None:
            participant.start_date = today - dt.timedelta(days=rng.randrange(-6, 80))
            participant.randomised_at = dt.datetime.combine(
                participant.start_date - dt.timedelta(days=7), dt.time(9, 0), tzinfo=dt.timezone.utc)
        added.append(participant)
    session.flush()
    if added:
        # The capabilities' own demo steps give the new patients plans, measures, messages.
        ctx = DemoContext(session=session, rng=random.Random(seed + start), today=today, trial=trial, admin=admin,
                          therapists=[therapist], participants=added)
        for step in DEMO_STEPS:
            if step.__name__ not in ("people_and_trial", "participants"):
                step(ctx)
                session.flush()
    rows = session.execute(
        select(User.email, Participant.id, Participant.status)
        .join(Participant, Participant.user_id == User.id)
        .where(Participant.therapist_id == therapist.id)
        .order_by(Participant.id)
    ).all()
    world.n_patients = len(rows)
    world.patient_emails = [email for email, _, status in rows if status == ParticipantStatus.ACTIVE.value]
    # The patient whose pages are measured: the first active one with an approved plan
    # (so that the module page and the plan have content), else the first active one.
    from icbt.treatment.models import ModulePlan, PlanItem

    with_plan = session.execute(
        select(Participant.id, PlanItem.id)
        .join(ModulePlan, ModulePlan.participant_id == Participant.id)
        .join(PlanItem, PlanItem.plan_id == ModulePlan.id)
        .where(Participant.therapist_id == therapist.id, Participant.status == ParticipantStatus.ACTIVE.value,
               ModulePlan.status == "approved", ModulePlan.start_date <= today, PlanItem.position == 1)
        .order_by(Participant.id)
    ).first()
    if with_plan is not None:
        world.participant_id, world.module_item_id = with_plan
        world.patient_email = next(email for email, pid, _ in rows if pid == world.participant_id)
    else:
        world.patient_email = world.patient_emails[0]
        world.participant_id = next(pid for email, pid, _ in rows if email == world.patient_email)
    return world
