"""Background work of messaging: the e-mail that says a new message is waiting.

The message row is committed before this task is queued (see ``aftercommit``); a failure
to send raises, and Huey retries with a growing delay. The message itself is never at risk.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from icbt.db import utcnow
from icbt.extensions import db
from icbt.tasks import huey, in_app_context

NOTIFY_RETRIES = 10
NOTIFY_RETRY_DELAY = 60  # seconds, doubled at each retry (about 17 hours in all)


def notification_text(link: str) -> tuple[str, str]:
    """Subject and body: no names, no content, nothing about health."""
    subject = _("You have a new message on the platform")
    body = "\n\n".join([
        _("Hello,"),
        _("You have a new message on the platform. Log in to read it:"),
        link,
        _("For your privacy, this e-mail never contains the message itself."),
    ]) + "\n"
    return subject, body


def _link(endpoint: str) -> str:
    app = current_app._get_current_object()
    path = app.url_map.bind("localhost").build(endpoint)
    return app.config.get("BASE_URL", "").rstrip("/") + path


@huey.task(retries=NOTIFY_RETRIES, retry_delay=NOTIFY_RETRY_DELAY, retry_backoff=2)
@in_app_context
def notify_new_message(message_id: int) -> str:
    from icbt.messaging.mail import send_email
    from icbt.messaging.models import Message
    from icbt.messaging.services import recipient_of

    message = db.session.get(Message, message_id)
    if message is None:
        return "missing"
    if message.notified_at is not None:
        return "already notified"
    recipient, endpoint = recipient_of(db.session, message)
    if recipient is None or not recipient.active:
        return "no recipient"
    subject, body = notification_text(_link(endpoint))
    send_email(recipient.email, subject, body)
    message.notified_at = utcnow()
    return "sent"
