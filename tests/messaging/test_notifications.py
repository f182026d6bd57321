"""The e-mail that says a message is waiting: no health content, one outbox file each, and a
failing SMTP server retried without losing the message."""
from __future__ import annotations

import datetime as dt
import email
import socket

from icbt.extensions import queue
from tests.conftest import login
from tests.messaging.conftest import messages, post, thread_url


def _read(path):  # type: ignore[no-untyped-def]
    return email.message_from_bytes(path.read_bytes())


def test_new_message_writes_one_outbox_file_without_content(app, participant, therapist, login_as, outbox) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "I had a panic attack on the bus today")
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 1
    mail = _read(files[0])
    text = mail.get_payload(decode=True).decode()
    assert mail["To"] == therapist.email
    assert mail["Subject"] == "You have a new message on the platform"
    assert app.config["BASE_URL"].rstrip("/") + "/therapist/messages" in text
    for private in ("panic", "bus", participant.code, participant.user.display_name, participant.user.email):
        assert private not in text and private not in mail["Subject"]
    [message] = messages()
    assert message.notified_at is not None

    staff = app.test_client()
    login(staff, therapist)
    post(staff, thread_url(participant), "Thank you for telling me. Let us look at it together.")
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    to_patient = [_read(f) for f in files if _read(f)["To"] == participant.user.email]
    assert len(to_patient) == 1
    body = to_patient[0].get_payload(decode=True).decode()
    assert "/me/messages" in body and "look at it together" not in body


def test_a_double_submit_sends_one_notification(participant, login_as, outbox) -> None:
    client = login_as(participant.user)
    post(client, thread_url(), "once", key="same-key-123456")
    post(client, thread_url(), "once", key="same-key-123456")
    assert len(list(outbox.glob("*.eml"))) == 1


def _closed_port() -> int:
    """A loopback port in our range with nothing listening."""
    for port in range(5159, 5150, -1):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no closed port in 5151-5159")


def test_failing_smtp_keeps_the_message_and_retries(app, participant, therapist, login_as, outbox, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", _closed_port())
    queue.huey.storage.flush_all()
    client = login_as(participant.user)
    response = post(client, thread_url(), "still here after the mail server failed")
    assert response.status_code == 302
    [message] = messages()
    assert message.body == "still here after the mail server failed"
    assert list(outbox.glob("*.eml")) == []

    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=2)
    [retry] = queue.huey.read_schedule(later)  # the failed delivery is scheduled again
    assert retry.name.endswith("deliver_email")
    assert retry.args[0] == therapist.email
    assert "still here" not in retry.args[2]  # the queued e-mail has no content either
    retries_left = retry.retries

    # Still failing when retried: scheduled again, the message untouched.
    queue.huey.execute(retry, later)
    [again] = queue.huey.read_schedule(later + dt.timedelta(days=2))
    assert again.retries == retries_left - 1
    assert [m.body for m in messages()] == ["still here after the mail server failed"]

    # The server is back (here: the outbox): the retry delivers.
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    queue.huey.execute(again, later + dt.timedelta(days=2))
    [delivered] = list(outbox.glob("*.eml"))
    assert _read(delivered)["To"] == therapist.email
    assert queue.huey.read_schedule(later + dt.timedelta(days=30)) == []
