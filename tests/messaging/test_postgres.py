"""PostgreSQL refuses NUL bytes in text: messages and drafts with them are stored cleaned,
and a concurrent double submit stores one message there too."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from icbt import migrate
from icbt.extensions import db
from icbt.messaging.models import Message, MessageDraft
from icbt.messaging.services import conversation_for, save_draft, send_message
from icbt.trials.services import create_trial, enrol
from icbt.users.services import create_user
from tests.conftest import PASSWORD, make_test_app, scratch_postgres_database


@pytest.mark.postgres
def test_nul_bytes_and_double_submits_on_postgresql(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with scratch_postgres_database(pg_url) as url:
        app = make_test_app(url, tmp_path)
        migrate.upgrade(app)
        with app.app_context():
            s = db.session
            therapist = create_user(s, email="t@example.org", password=PASSWORD, role="therapist", display_name="T")
            patient = create_user(s, email="p@example.org", password=PASSWORD, role="patient", display_name="P")
            participant = enrol(s, create_trial(s, slug="pg", name="PG"), patient, therapist=therapist)
            conversation = conversation_for(s, participant)
            result = send_message(s, conversation, patient, "nul\x00 here\u202e and\x07 there",
                                  idempotency_key=uuid.uuid4().hex, notify=False)
            save_draft(s, conversation, therapist, "draft\x00 text")
            s.commit()
            assert s.scalar(select(Message.body).where(Message.id == result.message.id)) == "nul here and there"
            assert s.scalar(select(MessageDraft.body)) == "draft text"
            conversation_id, patient_id = conversation.id, patient.id

        key = uuid.uuid4().hex
        barrier = threading.Barrier(2)
        created: list[bool] = []

        def send() -> None:
            with app.app_context():
                from icbt.messaging.models import Conversation
                from icbt.users.models import User

                conv = db.session.get(Conversation, conversation_id)
                author = db.session.get(User, patient_id)
                barrier.wait()
                created.append(send_message(db.session, conv, author, "same", idempotency_key=key, notify=False).created)
                db.session.commit()

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(created) == [False, True]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Message).where(Message.idempotency_key == key)) == 1
        app.extensions["icbt.db"].dispose()
