"""Questionnaires arrive through secure messaging: when an administration opens, or is
reminded, a system message in the patient's conversation invites them with a link to the
form; the therapist sees in the same thread when it was answered.

The measures capability calls ``on_opened`` / ``on_reminder`` through its listener lists
(``administration_opened_listeners``, ``administration_reminder_listeners``) inside a
savepoint. It sends the e-mail itself, so these system messages do not notify again.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from icbt.messaging.services import post_system_message

INVITE = "questionnaire_invite"
REMINDER = "questionnaire_reminder"


def _link(administration_id: int) -> str | None:
    if not has_app_context():
        return None
    try:
        return current_app.url_map.bind("localhost").build(
            "measures.questionnaire", {"administration_id": administration_id}
        )
    except Exception:  # noqa: BLE001 - the route is missing: the message still invites
        return None


def _title(instrument_id: str) -> str:
    try:
        from icbt.measures.instruments import get_instrument

        return get_instrument(instrument_id).title
    except Exception:  # noqa: BLE001 - an unknown id is shown as it is
        return instrument_id


def _post(session: Session, adm, system_kind: str) -> None:  # type: ignore[no-untyped-def]
    participant = adm.participant
    zone = ZoneInfo(participant.trial.timezone)
    closes: dt.datetime | None = getattr(adm, "closes_at", None)
    title = _title(adm.instrument_id)
    fallback = (
        f"A questionnaire is ready for you: {title}." if system_kind == INVITE
        else f"A reminder: the questionnaire {title} is still waiting for your answers."
    )
    post_system_message(
        session, participant,
        system_kind=system_kind,
        body=fallback,
        idempotency_key=f"{'adm-open' if system_kind == INVITE else 'adm-remind'}-{adm.id}",
        link_path=_link(adm.id),
        administration_id=adm.id,
        detail={"title": title, "instrument_id": adm.instrument_id,
                "closes": closes.astimezone(zone).date().isoformat() if closes else None},
        notify=False,
    )


def on_opened(session: Session, adm) -> None:  # type: ignore[no-untyped-def]
    _post(session, adm, INVITE)


def on_reminder(session: Session, adm) -> None:  # type: ignore[no-untyped-def]
    _post(session, adm, REMINDER)


def register_listeners() -> None:
    """Subscribe to the measures capability's hooks (once)."""
    from icbt.measures import services as measures

    if on_opened not in measures.administration_opened_listeners:
        measures.administration_opened_listeners.append(on_opened)
    if on_reminder not in measures.administration_reminder_listeners:
        measures.administration_reminder_listeners.append(on_reminder)


def administrations_answered(session: Session, administration_ids: set[int]) -> dict[int, dt.datetime | None]:
    """Per administration id: when it was answered (None if not yet), one query."""
    from icbt.measures.models import Administration

    if not administration_ids:
        return {}
    rows = session.execute(
        select(Administration.id, Administration.submitted_at).where(Administration.id.in_(administration_ids))
    ).all()
    return {aid: at for aid, at in rows}
