"""The e-mail that says a message is waiting: no names, no content, nothing about health.

Delivery is ``icbt.notifications.send_email(..., session=...)``: the e-mail is queued only
after the request's transaction (with the message row) commits, and the queued delivery is
retried by the worker when the SMTP server fails. The message never depends on the e-mail.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from icbt.db import utcnow
from icbt.messaging.models import Message, SenderRole
from icbt.users.models import User

log = logging.getLogger(__name__)


def notification_text(link: str) -> tuple[str, str]:
    subject = _("You have a new message on the platform")
    body = "\n\n".join([
        _("Hello,"),
        _("You have a new message on the platform. Log in to read it:"),
        link,
        _("For your privacy, this e-mail never contains the message itself. Please do not reply to it."),
    ]) + "\n"
    return subject, body


def link_to(endpoint: str) -> str:
    app = current_app._get_current_object()
    path = app.url_map.bind("localhost").build(endpoint)
    return (app.config.get("BASE_URL") or "").rstrip("/") + path


def recipient_of(session: Session, message: Message) -> tuple[User | None, str]:
    """Who is told about ``message``, and the page (endpoint) the e-mail links to."""
    participant = message.conversation.participant
    if message.sender_role == SenderRole.PATIENT.value:
        therapist = session.get(User, participant.therapist_id) if participant.therapist_id else None
        return therapist, "messaging.therapist_inbox"
    return participant.user, "messaging.patient_thread"


def queue_notification(session: Session, message: Message) -> bool:
    """Queue the e-mail for after the commit; records when (``notified_at``)."""
    from icbt.notifications import EmailError, send_email

    recipient, endpoint = recipient_of(session, message)
    if recipient is None or not recipient.active:
        return False
    subject, body = notification_text(link_to(endpoint))
    try:
        send_email(recipient.email, subject, body, session=session)
    except EmailError:
        log.warning("no notification for message %s: unusable address", message.id)
        return False
    message.notified_at = utcnow()
    session.flush()
    return True
