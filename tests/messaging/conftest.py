"""Helpers for the messaging tests."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from icbt.extensions import db
from icbt.messaging.models import Message


def thread_url(participant=None) -> str:  # type: ignore[no-untyped-def]
    return "/me/messages" if participant is None else f"/therapist/patients/{participant.id}/messages"


def post(client, url: str, body: str, *, key: str | None = None, action: str = "send", **fields):  # type: ignore[no-untyped-def]
    data = {"body": body, "idempotency_key": key or uuid.uuid4().hex, "action": action}
    data.update(fields)
    return client.post(url, data=data)


def messages(**where) -> list[Message]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    stmt = select(Message).order_by(Message.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Message, key) == value)
    return list(db.session.scalars(stmt))


@pytest.fixture
def outbox(app):  # type: ignore[no-untyped-def]
    from pathlib import Path

    path = Path(app.config["OUTBOX_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.eml"):
        old.unlink()
    return path
