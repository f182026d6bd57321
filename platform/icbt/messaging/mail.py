"""Sending one e-mail: to ``OUTBOX_DIR`` (one file each) without SMTP, else through SMTP.

Interim: the measures branch brings ``icbt.notifications.send_email`` with the same
signature; this module goes away when it lands. Raises on failure, so a task can retry.
"""
from __future__ import annotations

import os
import smtplib
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app


def build_email(to: str, subject: str, body: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="icbt.local")
    message.set_content(body)
    return message


def send_email(to: str, subject: str, body: str) -> None:
    config = current_app.config
    message = build_email(to, subject, body, config.get("MAIL_FROM", "no-reply@localhost"))
    host = config.get("SMTP_HOST")
    if not host:
        outbox = Path(config["OUTBOX_DIR"])
        outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex}.eml"
        tmp = outbox / f".{name}.tmp"
        tmp.write_bytes(bytes(message))
        os.replace(tmp, outbox / name)  # readers never see half a file
        return
    with smtplib.SMTP(host, int(config.get("SMTP_PORT") or 587), timeout=10) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
