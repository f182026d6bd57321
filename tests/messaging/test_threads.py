"""Writing and reading: receipts, unread counts, drafts, double submits, immutability,
retractions, limits and bad characters."""
from __future__ import annotations

import re
import threading
import uuid

import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.messaging.models import ImmutableMessageError, MessageDraft
from tests.conftest import login
from tests.messaging.conftest import messages, post, thread_url


def test_patient_writes_therapist_reads_and_the_receipt_shows(app, participant, therapist, login_as) -> None:
    patient_client = login_as(participant.user)
    response = post(patient_client, thread_url(), "I did the *breathing* exercise twice.")
    assert response.status_code == 302
    [message] = messages()
    assert message.sender_role == "patient" and message.author_id == participant.user_id
    assert message.read_at is None
    assert "Sent, not read yet" in patient_client.get(thread_url()).get_data(as_text=True)

    staff = app.test_client()
    login(staff, therapist)
    page = staff.get(thread_url(participant))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<em>breathing</em>" in html and "New" in html
    [message] = messages()
    assert message.read_at is not None
    assert re.search(r"Read \d", patient_client.get(thread_url()).get_data(as_text=True))


def test_unread_counts_in_the_navigation_for_both_roles(app, participant, therapist, login_as) -> None:
    patient_client = login_as(participant.user)
    staff = app.test_client()
    login(staff, therapist)
    for text in ("one", "two"):
        post(patient_client, thread_url(), text)
    nav = staff.get("/therapist/").get_data(as_text=True)
    assert re.search(r'Messages <span class="badge">2<', nav)
    staff.get(thread_url(participant))  # reading clears them
    assert 'class="badge"' not in staff.get("/therapist/").get_data(as_text=True)

    post(staff, thread_url(participant), "Well done this week.")
    assert re.search(r'Messages <span class="badge">1<', patient_client.get("/me/").get_data(as_text=True))
    patient_client.get(thread_url())
    assert 'class="badge"' not in patient_client.get("/me/").get_data(as_text=True)


def test_a_draft_survives_a_reload_and_is_cleared_by_sending(participant, login_as) -> None:
    client = login_as(participant.user)
    response = post(client, thread_url(), "Half a thought about the", action="draft")
    assert response.status_code == 302
    assert "Half a thought about the</textarea>" in client.get(thread_url()).get_data(as_text=True)
    # The autosave endpoint (JavaScript) replaces it.
    saved = client.post("/me/messages/draft", data={"body": "Half a thought about the week"})
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    assert "Half a thought about the week</textarea>" in client.get(thread_url()).get_data(as_text=True)
    assert db.session.scalar(select(MessageDraft.body)) == "Half a thought about the week"
    post(client, thread_url(), "Half a thought about the week, finished.")
    assert db.session.scalar(select(MessageDraft)) is None
    assert "</textarea>" in client.get(thread_url()).get_data(as_text=True)
    assert "finished.</textarea>" not in client.get(thread_url()).get_data(as_text=True)


def test_drafts_are_per_author(app, participant, therapist, login_as) -> None:
    patient_client = login_as(participant.user)
    post(patient_client, thread_url(), "patient draft", action="draft")
    staff = app.test_client()
    login(staff, therapist)
    html = staff.get(thread_url(participant)).get_data(as_text=True)
    assert "patient draft" not in html


def test_double_submit_stores_one_message(participant, login_as) -> None:
    client = login_as(participant.user)
    key = uuid.uuid4().hex
    first = post(client, thread_url(), "Sent once", key=key)
    second = post(client, thread_url(), "Sent once", key=key)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert [m.body for m in messages()] == ["Sent once"]
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "message.send")).all()) == 1


def test_concurrent_double_submit_stores_one_message(app, participant) -> None:
    clients = [app.test_client() for _ in range(2)]
    for c in clients:
        login(c, participant.user)
    key = uuid.uuid4().hex
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(c) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        statuses.append(post(c, thread_url(), "At the same moment", key=key).status_code)

    db.session.commit()
    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [302, 302]
    assert [m.body for m in messages()] == ["At the same moment"]


def test_two_different_messages_are_both_kept(participant, login_as) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "first")
    post(client, thread_url(), "second")
    assert [m.body for m in messages()] == ["first", "second"]


def test_sent_messages_cannot_be_changed_or_deleted(participant, login_as) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "original words")
    [message] = messages()
    message.body = "rewritten"
    with pytest.raises(ImmutableMessageError):
        db.session.flush()
    db.session.rollback()
    [message] = messages()
    db.session.delete(message)
    with pytest.raises(ImmutableMessageError):
        db.session.flush()
    db.session.rollback()
    assert [m.body for m in messages()] == ["original words"]


def test_retraction_is_a_new_visible_event(app, participant, therapist, login_as) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "I want to stop the programme")
    [original] = messages()
    response = client.post(f"/me/messages/{original.id}/retract", data={"note": "I was upset, I will go on"})
    assert response.status_code == 302
    again = client.post(f"/me/messages/{original.id}/retract", data={})
    assert again.status_code == 302
    events = messages()
    assert [(m.kind, m.retracts_id) for m in events] == [("message", None), ("retraction", original.id)]
    assert events[0].body == "I want to stop the programme"  # unchanged
    staff = app.test_client()
    login(staff, therapist)
    html = staff.get(thread_url(participant)).get_data(as_text=True)
    assert "Withdrawn by the author" in html and "I was upset, I will go on" in html
    assert "I want to stop the programme" in html


def test_nobody_retracts_someone_elses_message(app, participant, therapist, login_as) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "mine")
    [message] = messages()
    staff = app.test_client()
    login(staff, therapist)
    response = staff.post(f"/therapist/patients/{participant.id}/messages/{message.id}/retract", data={})
    assert response.status_code == 302  # refused with a message, nothing stored
    assert [m.kind for m in messages()] == ["message"]


def test_too_long_message_gets_a_form_error_and_is_kept_as_draft(app, participant, login_as) -> None:
    client = login_as(participant.user)
    limit = 5000
    body = "x" * (limit + 1)
    response = post(client, thread_url(), body)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"at most {limit} characters long; this one has {limit + 1}" in html
    assert messages() == []
    assert db.session.scalar(select(MessageDraft.body)) == body
    assert post(client, thread_url(), "x" * limit).status_code == 302
    assert len(messages()) == 1


def test_empty_message_is_refused(participant, login_as) -> None:
    client = login_as(participant.user)
    response = post(client, thread_url(), " \n\x00\u200b ")
    assert response.status_code == 200
    assert "Write a message before sending." in response.get_data(as_text=True)
    assert messages() == []


def test_nul_and_invisible_characters_are_never_stored(participant, login_as) -> None:
    client = login_as(participant.user)
    response = post(client, thread_url(), "safe\x00 text\u202e here\x07")
    assert response.status_code == 302
    [message] = messages()
    assert message.body == "safe text here"
    client.post("/me/messages/draft", data={"body": "draft\x00 too"})
    assert db.session.scalar(select(MessageDraft.body)) == "draft too"


def test_bad_idempotency_key_gives_a_form_error(participant, login_as) -> None:
    client = login_as(participant.user)
    response = post(client, thread_url(), "hello", key="x")
    assert response.status_code == 200
    assert "Reload the page" in response.get_data(as_text=True)
    assert messages() == []


def test_script_in_a_message_is_shown_as_text(app, participant, therapist, login_as) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), '<script>alert("x")</script> <img src=x onerror=alert(1)> [a](javascript:alert(1))')
    staff = app.test_client()
    login(staff, therapist)
    html = staff.get(thread_url(participant)).get_data(as_text=True)
    assert "&lt;script&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript' not in html


def test_reads_are_audit_logged(app, participant, therapist, login_as) -> None:
    staff = login_as(therapist)
    staff.get(thread_url(participant))
    staff.get(thread_url(participant))
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "conversation.read")).all()
    assert [(e.actor_id, e.participant_id) for e in reads] == [(therapist.id, participant.id)] * 2


def test_patient_without_therapist_cannot_send(factory, login_as) -> None:
    lonely = factory.participant(therapist=None)
    client = login_as(lonely.user)
    response = post(client, thread_url(), "hello?")
    assert "You do not have a therapist yet" in response.get_data(as_text=True)
    assert messages() == []
