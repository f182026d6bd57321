"""Fixtures for the measurement tests: a trial, participants in each arm, an injected clock."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from icbt.extensions import db
from icbt.measures import services
from icbt.trials.models import Participant, Trial

UTC = dt.timezone.utc
START = dt.date(2026, 3, 2)  # a Monday; Europe/Stockholm is UTC+1 until 29 March


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    """Noon (UTC) of ``day``: safely inside any local day in Europe."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


@pytest.fixture
def trial(factory) -> Trial:  # type: ignore[no-untyped-def]
    return factory.trial(timezone="Europe/Stockholm", weeks=10)


@pytest.fixture
def treated(factory, trial, therapist) -> Participant:  # type: ignore[no-untyped-def]
    p = factory.participant(trial=trial, therapist=therapist, arm="treatment", status="active", start_date=START)
    p.created_at = dt.datetime(2026, 2, 1, 9, tzinfo=UTC)
    db.session.commit()
    return p


@pytest.fixture
def waiting(factory, trial, therapist) -> Participant:  # type: ignore[no-untyped-def]
    p = factory.participant(trial=trial, therapist=therapist, arm="waitlist", status="active", start_date=START)
    p.created_at = dt.datetime(2026, 2, 1, 9, tzinfo=UTC)
    db.session.commit()
    return p


@pytest.fixture
def outbox(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.config["OUTBOX_DIR"])


@pytest.fixture(autouse=True)
def _clean_listeners_and_outbox(app):  # type: ignore[no-untyped-def]
    lists = (services.administration_opened_listeners, services.administration_reminder_listeners,
             services.administration_submitted_listeners, services.risk_alert_listeners)
    saved = [list(x) for x in lists]
    outbox = Path(app.config["OUTBOX_DIR"])
    for old in outbox.glob("*.eml") if outbox.exists() else ():
        old.unlink()
    yield
    for target, original in zip(lists, saved):
        target[:] = original


def core_answers(value: int = 1, **overrides: int) -> dict[int, int]:
    """CORE-OM answers: every item ``value`` except risk items 0 (no alert), plus overrides."""
    risk = {6, 9, 16, 22, 24, 34}
    answers = {n: (0 if n in risk else value) for n in range(1, 35)}
    answers.update({int(k.lstrip("i")): v for k, v in overrides.items()})
    return answers


def administration(participant: Participant, instrument: str, timepoint: str, now: dt.datetime):  # type: ignore[no-untyped-def]
    for adm in services.materialise_schedule(db.session, participant, now=now):
        if (adm.instrument_id, adm.timepoint) == (instrument, timepoint):
            db.session.commit()
            return adm
    raise AssertionError(f"no {instrument}/{timepoint} planned")
