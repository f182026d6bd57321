"""The page cache (icbt.pagecache): pages come from memory only while nothing they show has
changed, whoever changed it and in whichever transaction; every view is still audited."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from icbt import pagecache
from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.messaging.models import Conversation, Message
from icbt.pagecache import GLOBAL, PageStore, cache_versions, participant_scope, therapist_scope
from icbt.trials.models import Participant
from icbt.users.models import Role
from tests.conftest import login


def tokens() -> dict[str, int]:
    db.session.rollback()
    return {scope: token for scope, token in db.session.execute(select(cache_versions.c.scope, cache_versions.c.token))}


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {scope for scope in after if before.get(scope) != after[scope]}


def _message(participant: Participant, *, body: str = "hello", role: str = "therapist") -> Message:
    conversation = db.session.scalar(select(Conversation).where(Conversation.participant_id == participant.id))
    if conversation is None:
        conversation = Conversation(participant_id=participant.id)
        db.session.add(conversation)
        db.session.flush()
    author = participant.therapist_id if role == "therapist" else participant.user_id
    message = Message(conversation_id=conversation.id, author_id=author, sender_role=role, kind="message",
                      body=body, idempotency_key=uuid.uuid4().hex, sent_at=dt.datetime.now(dt.timezone.utc))
    db.session.add(message)
    db.session.commit()
    return message


# ---------------------------------------------------------------- the store


def test_the_store_is_bounded_by_entries_and_by_bytes() -> None:
    store = PageStore(max_entries=3, max_bytes=100)
    for n in range(5):
        store.put(("k", n), ("x" * 10, {}))
    assert len(store) == 3 and store.get(("k", 1)) is None and store.get(("k", 4)) == ("x" * 10, {})
    store.get(("k", 2))  # recently used: kept, the least recently used goes
    store.put(("new",), ("y" * 12, {}))
    assert store.get(("k", 3)) is None and store.get(("k", 2)) is not None and store.get(("new",)) is not None

    store = PageStore(max_entries=100, max_bytes=100)
    for n in range(10):
        store.put(("k", n), ("x" * 12, {}))
    assert len(store) == 8  # 8 x 12 bytes <= 100
    assert store.get(("k", 0)) is None and store.get(("k", 1)) is None and store.get(("k", 9)) is not None
    store.put(("huge",), ("h" * 13, {}))  # more than an eighth of the budget: never kept
    assert store.get(("huge",)) is None and len(store) == 8


# ---------------------------------------------------------------- which writes change which scope


def test_a_message_changes_its_participant_and_their_therapist_only(factory, therapist) -> None:
    mine = factory.participant(therapist=therapist)
    other_therapist = factory.user(Role.THERAPIST)
    other = factory.participant(therapist=other_therapist)
    before = tokens()
    _message(mine)
    assert changed(before, tokens()) == {participant_scope(mine.id), therapist_scope(therapist.id)}
    assert participant_scope(other.id) in before and therapist_scope(other_therapist.id) in before


def test_moving_a_patient_changes_both_caseloads(factory, therapist) -> None:
    participant = factory.participant(therapist=therapist)
    new_therapist = factory.user(Role.THERAPIST)
    before = tokens()
    participant.therapist_id = new_therapist.id
    db.session.commit()
    assert {participant_scope(participant.id), therapist_scope(therapist.id),
            therapist_scope(new_therapist.id)} <= changed(before, tokens())


def test_a_login_does_not_change_pages_but_a_new_name_does(factory, participant) -> None:
    user = participant.user
    before = tokens()
    user.last_login_at = dt.datetime.now(dt.timezone.utc)
    db.session.commit()
    assert changed(before, tokens()) == set()
    user.display_name = "Another name"
    db.session.commit()
    assert GLOBAL in changed(before, tokens())


def test_bulk_changes_name_their_participant_or_change_everything(participant, therapist) -> None:
    message = _message(participant)
    before = tokens()
    db.session.execute(update(Message).where(Message.id == message.id).values(read_at=dt.datetime.now(dt.timezone.utc))
                       .execution_options(synchronize_session=False, pagecache_participants=[participant.id]))
    db.session.commit()
    assert changed(before, tokens()) == {participant_scope(participant.id), therapist_scope(therapist.id)}
    before = tokens()
    db.session.execute(update(Message).where(Message.id == message.id).values(read_at=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    assert GLOBAL in changed(before, tokens())


def test_audit_lines_and_rolled_back_work_change_nothing(participant) -> None:
    _message(participant)
    before = tokens()
    from icbt.audit.services import record

    record(db.session, "test.view", target=participant)
    db.session.commit()
    assert changed(before, tokens()) == set()
    participant.code = "CHANGED"
    db.session.flush()
    db.session.rollback()
    assert changed(before, tokens()) == set()


# ---------------------------------------------------------------- pages


def _hits(app: Flask) -> int:
    return app.extensions["icbt.pagecache"].hits


def test_the_dashboard_comes_from_the_cache_until_the_therapist_writes(app, participant, therapist, login_as) -> None:
    _message(participant, body="first")  # any write: the epoch exists
    client = login_as(participant.user)
    first = client.get("/me/").get_data(as_text=True)
    hits = _hits(app)
    again = client.get("/me/")
    assert again.status_code == 200 and _hits(app) == hits + 1
    assert again.get_data(as_text=True) == first
    assert again.headers["Cache-Control"] == "no-store"  # never kept by a browser or proxy

    staff = app.test_client()
    login(staff, therapist)
    staff.post(f"/therapist/patients/{participant.id}/messages",
               data={"body": "Well done.", "idempotency_key": uuid.uuid4().hex, "action": "send"})
    hits = _hits(app)
    fresh = client.get("/me/").get_data(as_text=True)
    assert _hits(app) == hits  # rendered again: the badge counts the new message
    assert re.search(r'Messages <span class="badge">2<', fresh)
    # every view wrote its audit line, cached or not
    views = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "dashboard.view"))
    assert views == 3


def test_the_thread_gets_a_new_idempotency_key_on_every_view(app, participant, login_as) -> None:
    _message(participant, body="Welcome")
    client = login_as(participant.user)
    client.get("/me/messages")  # marks the welcome read (not cached: it changed the thread)
    keys = []
    for _ in range(3):
        html = client.get("/me/messages").get_data(as_text=True)
        keys.append(re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html).group(1))
    assert _hits(app) >= 1
    assert len(set(keys)) == 3 and not any(key.startswith("idem-") for key in keys)
    for n, key in enumerate(keys[:2]):  # two messages sent from two cached views: both kept
        client.post("/me/messages", data={"body": f"note {n}", "idempotency_key": key, "action": "send"})
    bodies = [m.body for m in db.session.scalars(select(Message).order_by(Message.id))]
    assert bodies == ["Welcome", "note 0", "note 1"]
    assert "note 1" in client.get("/me/messages").get_data(as_text=True)


def test_the_caseload_changes_when_a_patient_writes(app, factory, therapist, login_as) -> None:
    patient = factory.participant(therapist=therapist)
    _message(patient, body="hi", role="therapist")
    staff = app.test_client()
    login(staff, therapist)
    staff.get("/therapist/")
    hits = _hits(app)
    staff.get("/therapist/")
    assert _hits(app) == hits + 1
    client = login_as(patient.user)
    client.post("/me/messages", data={"body": "I have a question", "idempotency_key": uuid.uuid4().hex,
                                      "action": "send"})
    page = staff.get("/therapist/").get_data(as_text=True)
    assert re.search(r'Messages <span class="badge">1<', page)
    counts = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "caseload.view")).all()
    assert [c["patients"] for c in counts] == [1, 1, 1]


def test_time_passing_renders_again(app, participant, login_as, monkeypatch: pytest.MonkeyPatch) -> None:
    _message(participant)
    now = dt.datetime.now(dt.timezone.utc).replace(second=5)
    monkeypatch.setitem(app.config, "FAKE_NOW", now)
    client = login_as(participant.user)
    client.get("/me/")
    hits = _hits(app)
    client.get("/me/")
    assert _hits(app) == hits + 1
    monkeypatch.setitem(app.config, "FAKE_NOW", now + dt.timedelta(seconds=61))
    client.get("/me/")
    assert _hits(app) == hits + 1


def test_no_epoch_no_cache_and_a_flash_is_never_kept(app, participant, login_as) -> None:
    client = login_as(participant.user)
    db.session.execute(cache_versions.delete())  # an emptied database: old entries must not come back
    db.session.commit()
    hits = _hits(app)
    client.get("/me/")
    client.get("/me/")
    assert _hits(app) == hits
    _message(participant)  # the next write creates a new epoch
    client.get("/me/")
    with client.session_transaction() as cookie:
        cookie["_flashes"] = [("success", "Saved.")]
    flashed = client.get("/me/").get_data(as_text=True)
    assert "Saved." in flashed
    assert "Saved." not in client.get("/me/").get_data(as_text=True)


def test_the_cache_can_be_turned_off(app, participant, login_as, monkeypatch: pytest.MonkeyPatch) -> None:
    _message(participant)
    monkeypatch.setitem(app.config, "PAGE_CACHE", False)
    client = login_as(participant.user)
    hits = _hits(app)
    for _ in range(3):
        assert client.get("/me/").status_code == 200
    assert _hits(app) == hits


def test_versions_name_the_epoch_and_the_scope(app, participant) -> None:
    _message(participant)
    with app.test_request_context("/me/"):
        found = pagecache.versions(db.session, [participant_scope(participant.id)])
    assert set(found) >= {"epoch", participant_scope(participant.id)}
