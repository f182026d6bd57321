"""Helpers for the treatment tests: participants at each stage, built through the services."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest
from flask import Flask

from icbt.content import store
from icbt.extensions import db
from icbt.intake.services import record_assessment, submit_screening
from icbt.tailoring.problems import PROBLEM_KEYS
from icbt.treatment.models import ModulePlan
from icbt.treatment.services import approve_plan, propose_plan
from icbt.trials.allocation import import_allocation
from icbt.trials.models import Participant

UTC = dt.timezone.utc


def set_clock(app: Flask, monkeypatch: pytest.MonkeyPatch, when: dt.datetime) -> None:
    monkeypatch.setitem(app.config, "FAKE_NOW", when)
    # One clock drives everything, sessions included: these tests jump days and months
    # within one login, so the session limits are stretched here (tests/security checks them).
    year = 366 * 24 * 3600
    monkeypatch.setitem(app.config, "SESSION_IDLE_TIMEOUT", {"patient": year, "therapist": year, "admin": year})
    monkeypatch.setitem(app.config, "SESSION_ABSOLUTE_LIFETIME", year)


@pytest.fixture
def frozen_now(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    """Set the platform's clock (``icbt.clock``) to a UTC instant."""

    def _set(when: dt.datetime) -> None:
        set_clock(app, monkeypatch, when)

    return _set


def screen(participant: Participant, *, questionnaires: bool = True, **ratings: int) -> None:
    """The patient's screening: the problem ratings, then (unless ``questionnaires=False``)
    the screening questionnaires (GAD-7, PHQ-9) with ``gad_7=``/``phq_9=`` answers per item."""
    values = {key: ratings.get(key, 0) for key in PROBLEM_KEYS}
    submit_screening(db.session, participant, ratings=values, free_text="")
    if questionnaires:
        answer_screening_questionnaires(participant, gad_7=ratings.get("gad_7", 0), phq_9=ratings.get("phq_9", 0))
    db.session.commit()


def answer_screening_questionnaires(participant: Participant, **per_item: int) -> None:
    """Send the participant's screening questionnaires, each item answered ``per_item[id]``
    (``gad_7=2``); just after intake, inside their window."""
    from icbt.measures import screening, services
    from icbt.measures.instruments import get_instrument

    when = participant.created_at + dt.timedelta(minutes=5)
    for adm in screening.start(db.session, participant, now=when):
        value = per_item.get(adm.instrument_id.replace("-", "_"), 0)
        answers = {n: value for n in get_instrument(adm.instrument_id).item_numbers}
        services.submit(db.session, adm, answers, idempotency_key=f"screen-{adm.id}", now=when, notify=False)
    db.session.commit()


def assess(participant: Participant, therapist: Any, primary: str = "panic", severity: str = "moderate",
           comorbid: dict[str, str] | None = None) -> None:
    record_assessment(db.session, participant, actor=therapist, eligible=True, primary=primary,
                      severity=severity, comorbid=comorbid or {})
    db.session.commit()


@pytest.fixture
def in_treatment(factory, therapist):  # type: ignore[no-untyped-def]
    """A participant with an approved plan starting on ``start`` (a date in Europe/Stockholm)."""

    def _make(start: dt.date, *, primary: str = "panic", severity: str = "moderate",
              comorbid: dict[str, str] | None = None, therapist_user: Any = None,
              today: dt.date | None = None) -> tuple[Participant, ModulePlan]:
        who = therapist_user or therapist
        participant = factory.participant(therapist=who)
        screen(participant, panic=7)
        assess(participant, who, primary, severity, comorbid)
        import_allocation(db.session, participant, "treatment", note="test", actor=who)
        participant.status = "randomised"
        plan = propose_plan(db.session, participant, actor=who, content=store())
        approve_plan(db.session, plan, actor=who, start_date=start, today=today or start)
        db.session.commit()
        return participant, plan

    return _make
