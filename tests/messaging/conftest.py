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


def handed_in_homework(participant, submitted_at, *, position: int = 1, title: str = "Getting started",  # type: ignore[no-untyped-def]
                       start_date=None, status: str = "submitted"):
    """An approved plan item with a handed-in worksheet (rows written directly, committed)."""
    import datetime as dt

    from icbt.content.models import ModuleVersion
    from icbt.treatment.models import Homework, ModulePlan, PlanItem

    version = db.session.scalar(select(ModuleVersion).where(ModuleVersion.title == title))
    if version is None:
        version = ModuleVersion(module_key=f"m-{title.lower().replace(' ', '-')}", lang="en", version=1,
                                content_hash="0" * 64, title=title, data={})
        db.session.add(version)
        db.session.flush()
    plan = db.session.scalar(select(ModulePlan).where(ModulePlan.participant_id == participant.id))
    if plan is None:
        plan = ModulePlan(participant_id=participant.id, status="approved", approved_at=submitted_at,
                          start_date=start_date or (submitted_at.date() - dt.timedelta(days=7 * (position - 1) + 2)))
        db.session.add(plan)
        db.session.flush()
    item = PlanItem(plan_id=plan.id, position=position, module_key=version.module_key,
                    module_version_id=version.id, version=1, content_hash=version.content_hash)
    db.session.add(item)
    db.session.flush()
    homework = Homework(participant_id=participant.id, plan_item_id=item.id, worksheet_id="main",
                        status=status, data={"answer": "my notes"}, submitted_at=submitted_at,
                        submission_key=uuid.uuid4().hex)
    db.session.add(homework)
    db.session.commit()
    return homework
