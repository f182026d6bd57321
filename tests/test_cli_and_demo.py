from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from icbt.demo import DEMO_PASSWORD, N_PARTICIPANTS, seed_demo
from icbt.extensions import db
from icbt.trials.models import Participant, Trial
from icbt.users.models import User
from icbt.users.services import authenticate


def _snapshot() -> list[tuple]:
    rows = db.session.execute(
        select(Participant.code, Participant.arm, Participant.status, Participant.start_date, User.email)
        .join(User, User.id == Participant.user_id).order_by(Participant.code)
    ).all()
    return [tuple(r) for r in rows]


def test_demo_seeds_a_trial_and_is_idempotent(app) -> None:
    today = dt.date(2026, 11, 26)
    summary = seed_demo(db.session, seed=7, today=today)
    db.session.commit()
    assert summary.created["participants"] == N_PARTICIPANTS
    first = _snapshot()
    arms = [row[1] for row in first]
    assert arms.count("treatment") == arms.count("waitlist") == 24
    assert {row[2] for row in first} >= {"applicant", "eligible", "randomised", "active", "completed"}
    again = seed_demo(db.session, seed=7, today=today)
    db.session.commit()
    assert again.created == {}
    assert _snapshot() == first
    assert db.session.scalar(select(func.count()).select_from(Trial)) == 1
    assert db.session.scalar(select(func.count()).select_from(User)) == N_PARTICIPANTS + 4
    assert authenticate(db.session, "therapist1@demo.example", DEMO_PASSWORD) is not None


def test_demo_is_deterministic_from_its_seed(app) -> None:
    today = dt.date(2026, 11, 26)
    seed_demo(db.session, seed=11, today=today)
    db.session.commit()
    first = _snapshot()
    from tests.conftest import _empty_all_tables

    _empty_all_tables(app)
    seed_demo(db.session, seed=11, today=today)
    db.session.commit()
    assert _snapshot() == first


def test_cli_creates_users_and_refuses_duplicates(runner) -> None:
    args = ["users", "create", "--email", "Kim@Example.org", "--name", "Kim", "--role", "therapist"]
    result = runner.invoke(args=args, input="a-long-enough-password\na-long-enough-password\n")
    assert result.exit_code == 0, result.output
    assert "Created therapist account kim@example.org" in result.output
    again = runner.invoke(args=args, input="a-long-enough-password\na-long-enough-password\n")
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_cli_demo_if_empty(runner) -> None:
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.example" in result.output and DEMO_PASSWORD in result.output
    second = runner.invoke(args=["demo", "--if-empty"])
    assert "already has data" in second.output
