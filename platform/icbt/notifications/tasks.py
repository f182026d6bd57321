"""The queued delivery of e-mails, retried when the SMTP server is briefly unavailable."""
from __future__ import annotations

from icbt.extensions import queue

huey = queue.huey


@huey.task(retries=5, retry_delay=120)
def deliver_email(to: str, subject: str, body: str) -> str:
    from icbt.notifications import deliver

    # Only configuration is needed (no database): read it from the bound app.
    return deliver(queue.app.config, to, subject, body)
