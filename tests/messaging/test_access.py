"""Access in both directions: patients reach only their own conversation, therapists only
their caseload's, admins no message content at all."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from tests.conftest import login
from tests.messaging.conftest import messages, post, thread_url


@pytest.fixture
def two_patients(factory, therapist):  # type: ignore[no-untyped-def]
    other_therapist = factory.user("therapist")
    return factory.participant(therapist=therapist), factory.participant(therapist=other_therapist), other_therapist


def test_patient_cannot_read_or_post_into_another_conversation_by_changing_ids(app, two_patients, login_as) -> None:
    mine, theirs, _ = two_patients
    other_client = app.test_client()
    login(other_client, theirs.user)
    post(other_client, thread_url(), "their private words")
    [their_message] = messages()

    client = login_as(mine.user)
    # The therapist-side routes take a participant id: refused by role.
    assert client.get(thread_url(theirs)).status_code == 403
    assert post(client, thread_url(theirs), "intrusion").status_code == 403
    assert client.post(f"/therapist/patients/{theirs.id}/messages/draft", data={"body": "x"}).status_code == 403
    # Message ids from another conversation are not found in one's own.
    assert client.post(f"/me/messages/{their_message.id}/retract", data={}).status_code == 404
    # One's own thread never shows another's messages.
    assert "their private words" not in client.get(thread_url()).get_data(as_text=True)
    assert [m.body for m in messages()] == ["their private words"]


def test_therapist_cannot_reach_a_patient_outside_the_caseload(app, two_patients, therapist, login_as) -> None:
    mine, theirs, _ = two_patients
    patient_client = app.test_client()
    login(patient_client, theirs.user)
    post(patient_client, thread_url(), "for my own therapist only")
    [foreign] = messages()
    client = login_as(therapist)
    assert client.get(thread_url(mine)).status_code == 200
    for method, url, data in [
        ("get", thread_url(theirs), None),
        ("post", thread_url(theirs), {"body": "x", "idempotency_key": "k" * 16, "action": "send"}),
        ("post", f"/therapist/patients/{theirs.id}/messages/draft", {"body": "x"}),
        ("post", f"/therapist/patients/{theirs.id}/messages/{foreign.id}/retract", {}),
        ("post", f"/therapist/patients/{theirs.id}/time/beat", {}),
        ("get", f"/therapist/patients/{theirs.id}/time", None),
    ]:
        response = getattr(client, method)(url, data=data) if data is not None else getattr(client, method)(url)
        assert response.status_code == 403, url
    # A message id of another conversation, through one's own patient's URL: not found.
    assert client.post(f"/therapist/patients/{mine.id}/messages/{foreign.id}/retract", data={}).status_code == 404
    assert client.get("/therapist/patients/999999/messages").status_code == 404
    assert len(messages()) == 1
    inbox = client.get("/therapist/messages").get_data(as_text=True)
    assert mine.code in inbox and theirs.code not in inbox
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denied) >= 6


def test_replacement_therapist_sees_the_history_and_the_former_one_does_not(app, participant, therapist, factory, login_as) -> None:
    patient_client = login_as(participant.user)
    post(patient_client, thread_url(), "told to my first therapist")
    first = app.test_client()
    login(first, therapist)
    post(first, thread_url(participant), "answer from the first therapist")

    replacement = factory.user("therapist")
    participant.therapist_id = replacement.id
    db.session.commit()

    second = app.test_client()
    login(second, replacement)
    html = second.get(thread_url(participant)).get_data(as_text=True)
    assert "told to my first therapist" in html and "answer from the first therapist" in html
    assert first.get(thread_url(participant)).status_code == 403
    # The patient now writes to the replacement, whose navigation counts it.
    post(patient_client, thread_url(), "hello to my new therapist")
    assert 'class="badge">1<' in second.get("/therapist/").get_data(as_text=True)
    assert 'class="badge"' not in first.get("/therapist/").get_data(as_text=True)


ADMIN_URLS = [
    ("get", "/me/messages"),
    ("post", "/me/messages/draft"),
    ("post", "/me/messages/{mid}/retract"),
    ("get", "/therapist/messages"),
    ("get", "/therapist/patients/{pid}/messages"),
    ("post", "/therapist/patients/{pid}/messages"),
    ("post", "/therapist/patients/{pid}/messages/draft"),
    ("post", "/therapist/patients/{pid}/messages/{mid}/retract"),
    ("get", "/therapist/patients/{pid}/time"),
    ("post", "/therapist/patients/{pid}/time/beat"),
    ("get", "/therapist/snippets"),
]


def test_admins_read_no_message_content(app, participant, factory, login_as) -> None:
    patient_client = app.test_client()
    login(patient_client, participant.user)
    post(patient_client, thread_url(), "a very private sentence")
    [message] = messages()
    client = login_as(factory.user("admin"))
    for method, pattern in ADMIN_URLS:
        url = pattern.format(pid=participant.id, mid=message.id)
        assert getattr(client, method)(url).status_code == 403, url
    for url in ("/admin/therapists", "/admin/therapist-time", "/admin/therapist-time?format=csv", "/admin/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "a very private sentence" not in response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_login(client, participant) -> None:
    for url in ("/me/messages", f"/therapist/patients/{participant.id}/messages", "/therapist/messages"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
