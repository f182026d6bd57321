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
    # An unread message from the own patient: the therapist's thread GET writes its read
    # receipt (messages.read_at, on the GET allow-list).
    from icbt.messaging.services import conversation_for, send_message

    send_message(db.session, conversation_for(db.session, own), own.user, "Hello", idempotency_key="world-unread")
    db.session.commit()
    return World(trial, therapist, other_therapist, admin, own, other)


def logged_in_client(app: Flask, user: User | None):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|UPSERT|TRUNCATE|ALTER|DROP|CREATE)\b", re.I)


@contextmanager
def captured_writes(app: Flask) -> Iterator[list[str]]:
    """The data-changing SQL statements run while the block runs (any session), whole."""
    engine = app.extensions["icbt.db"]
    statements: list[str] = []

    def _listen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if _WRITE.match(statement):
            statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", _listen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _listen)


_INSERT = re.compile(r'^INSERT INTO "?(\w+)"?', re.I)
_UPDATE = re.compile(r'^UPDATE "?(\w+)"? SET (.*?)(?: WHERE |$)', re.I)
_ASSIGNED = re.compile(r'"?(\w+)"?\s*=')


def write_target(statement: str) -> tuple[str, str, frozenset[str]]:
    """(kind, table, columns set) of a data-changing statement; columns only for UPDATE."""
    if match := _INSERT.match(statement):
        return "INSERT", match.group(1).lower(), frozenset()
    if match := _UPDATE.match(statement):
        return "UPDATE", match.group(1).lower(), frozenset(c.lower() for c in _ASSIGNED.findall(match.group(2)))
    return statement.split(None, 1)[0].upper(), "", frozenset()


def disallowed_get_writes(statements: list[str]) -> list[str]:
    """The statements a GET may not run (tests/security/route_table.py: GET_WRITE_ALLOWED)."""
    from tests.security.route_table import GET_WRITE_ALLOWED

    refused = []
    for statement in statements:
        kind, table, columns = write_target(statement)
        allowed = GET_WRITE_ALLOWED.get(table, {})
        if kind not in allowed or (allowed[kind] is not None and not columns <= allowed[kind]):
            refused.append(statement[:160])
    return refused



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
