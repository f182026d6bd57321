"""Shared pieces of the security tests: a world with two caseloads, write capture, clocks."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from icbt.db import utcnow
from icbt.extensions import db
from icbt.trials.models import Participant, Trial
from icbt.users.models import User
from tests.conftest import login


@dataclasses.dataclass
class World:
    """Two therapists, each with one patient, and an admin."""

    trial: Trial
    therapist: User
    other_therapist: User
    admin: User
    own_participant: Participant
    other_participant: Participant

    @property
    def patient(self) -> User:
        return self.own_participant.user

    def user(self, role: str) -> User:
        return {"patient": self.patient, "therapist": self.therapist, "admin": self.admin}[role]

    def own(self, role: str) -> Participant:
        return self.own_participant

    def other(self, role: str) -> Participant:
        return self.other_participant

    def add(self, obj: Any) -> Any:
        db.session.add(obj)
        db.session.flush()
        return obj


@pytest.fixture
def world(factory) -> World:  # type: ignore[no-untyped-def]
    trial = factory.trial(name="Matrix trial")
    therapist, other_therapist = factory.user("therapist"), factory.user("therapist")
    admin = factory.user("admin")
    own = factory.participant(trial=trial, therapist=therapist, status="active", arm="treatment")
    other = factory.participant(trial=trial, therapist=other_therapist, status="active", arm="waitlist")
    return World(trial, therapist, other_therapist, admin, own, other)


def logged_in_client(app: Flask, user: User | None):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|UPSERT|TRUNCATE|ALTER|DROP|CREATE)\b", re.I)


@contextmanager
def captured_writes(app: Flask) -> Iterator[list[str]]:
    """The data-changing SQL statements run while the block runs (any session)."""
    engine = app.extensions["icbt.db"]
    statements: list[str] = []

    def _listen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if _WRITE.match(statement):
            statements.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", _listen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _listen)


def non_audit(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.upper().startswith("INSERT INTO AUDIT_EVENTS")]


class Clock:
    """A clock a test moves, for app.config["FAKE_NOW"] (``icbt.clock``: every part reads it)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + dt.timedelta(**delta)


@pytest.fixture
def clock(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setitem(app.config, "FAKE_NOW", c)
    return c
