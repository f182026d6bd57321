"""Outgoing e-mail: ``send_email(to, subject, body)``.

Notifications carry NO health content (no scores, items, answers or diagnoses): they say that
something is waiting on the platform and link to it. Callers write such texts; this module
only delivers.

Delivery goes through the task queue (Huey) with retries. With ``session=`` the e-mail is
queued only after that database session commits, so a rolled-back request sends nothing.

Where it goes: in the embedded default (no ``SMTP_HOST``) each e-mail is one file in
``app.config["OUTBOX_DIR"]`` (RFC 5322 text, written atomically); otherwise SMTP from config
(``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``MAIL_FROM``; STARTTLS
unless the port is 25 or 465, implicit TLS on 465).
"""
from __future__ import annotations

import os
import re
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]")
_BODY_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PENDING_KEY = "icbt.notifications.pending"


class EmailError(ValueError):
    """An e-mail that cannot be sent as given (bad address, empty subject...)."""


def build_message(config: Any, to: str, subject: str, body: str) -> EmailMessage:
    to = _HEADER_UNSAFE.sub("", to or "").strip()
    subject = _HEADER_UNSAFE.sub(" ", subject or "").strip()
    if not to or "@" not in to or len(to) > 254:
        raise EmailError("a valid recipient address is needed")
    if not subject:
        raise EmailError("an e-mail needs a subject")
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM", "ICBT platform <no-reply@localhost>")
    message["To"] = to
    message["Subject"] = subject[:200]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="icbt.local")
    message.set_content(_BODY_UNSAFE.sub("", body or ""))
    return message


def write_to_outbox(outbox: Path | str, message: EmailMessage) -> Path:
    folder = Path(outbox)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.eml"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(message.as_bytes())
    os.replace(tmp, folder / name)  # atomic: a reader never sees half an e-mail
    return folder / name


def send_via_smtp(config: Any, message: EmailMessage) -> None:
    host = config["SMTP_HOST"]
    port = int(config.get("SMTP_PORT") or 587)
    context = ssl.create_default_context()
    if port == 465:
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=30)
    with server:
        if port not in (25, 465):
            server.starttls(context=context)
        if config.get("SMTP_USER"):
            server.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        server.send_message(message)


def deliver(config: Any, to: str, subject: str, body: str) -> str:
    """Deliver now (used by the queued task). Returns where it went."""
    message = build_message(config, to, subject, body)
    if config.get("SMTP_HOST"):
        send_via_smtp(config, message)
        return "smtp"
    return str(write_to_outbox(config["OUTBOX_DIR"], message))


def send_email(to: str, subject: str, body: str, *, session: Session | None = None) -> None:
    """Queue an e-mail (retried by the worker). With ``session``, only once it commits."""
    from flask import current_app

    build_message(current_app.config, to, subject, body)  # refuse bad input now, not in the worker
    if session is None:
        _enqueue(to, subject, body)
        return
    session.info.setdefault(_PENDING_KEY, []).append((to, subject, body))


def _enqueue(to: str, subject: str, body: str) -> None:
    from icbt.notifications.tasks import deliver_email

    deliver_email(to, subject, body)


# SQLAlchemy calls after_commit / after_rollback for a SAVEPOINT too (``begin_nested``, used
# e.g. around each measurement listener): only the outermost commit sends, and a savepoint
# rolled back drops just the e-mails queued inside it.
_MARKS_KEY = "icbt.notifications.savepoint_marks"


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS_KEY, {})
        marks[id(transaction)] = len(session.info.get(_PENDING_KEY, ()))


@event.listens_for(Session, "after_transaction_end")
def _forget_savepoints(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: its savepoints are over
        session.info.pop(_MARKS_KEY, None)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the e-mails wait for the outer commit
    pending = session.info.pop(_PENDING_KEY, None)
    for to, subject, body in pending or ():
        _enqueue(to, subject, body)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        mark = session.info.get(_MARKS_KEY, {}).get(id(previous_transaction))
        pending = session.info.get(_PENDING_KEY)
        if mark is not None and pending is not None:
            del pending[mark:]
        return
    session.info.pop(_PENDING_KEY, None)


def outbox_messages(outbox: Path | str) -> list[EmailMessage]:
    """The e-mails in an outbox folder, oldest first (for tests and the demo)."""
    from email import policy
    from email.parser import BytesParser

    folder = Path(outbox)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in paths]  # type: ignore[misc]
