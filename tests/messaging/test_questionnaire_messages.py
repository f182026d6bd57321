"""Questionnaires arrive through messaging: an opening administration posts an invitation
with a link in the patient's thread (once), a reminder posts another, and the therapist
sees in the thread when it was answered."""
from __future__ import annotations

import datetime as dt

from icbt.db import utcnow
from icbt.extensions import db
from icbt.measures import services as measures
from icbt.measures.models import Administration
from icbt.messaging.services import unread_count
from tests.conftest import login
from tests.messaging.conftest import messages, thread_url


def _item(html: str, message_id: int) -> str:
    """The thread item of one message."""
    start = html.index(f'<li id="m-{message_id}"')
    return html[start:html.index("</li>", start)]


def _administration(participant, now):  # type: ignore[no-untyped-def]
    adm = Administration(
        participant_id=participant.id, instrument_id="core-om", instrument_version="1",
        timepoint="pre", opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=7),
        status="scheduled", draft={},
    )
    db.session.add(adm)
    db.session.flush()
    return adm


def test_opening_posts_one_invitation_and_answering_shows_to_the_therapist(app, participant, therapist, login_as) -> None:
    now = utcnow()
    adm = _administration(participant, now)
    measures.refresh_statuses(db.session, [adm], now=now)
    measures.refresh_statuses(db.session, [adm], now=now + dt.timedelta(minutes=5))  # no second one
    db.session.commit()
    [invite] = messages()
    assert (invite.kind, invite.sender_role, invite.system_kind) == ("system", "system", "questionnaire_invite")
    assert invite.administration_id == adm.id
    assert invite.link_path == f"/me/questionnaires/{adm.id}"

    patient_client = login_as(participant.user)
    assert unread_count(db.session, participant.user) == 1
    html = _item(patient_client.get(thread_url()).get_data(as_text=True), invite.id)
    assert f'href="/me/questionnaires/{adm.id}"' in html and "A questionnaire is ready for you" in html

    staff = app.test_client()
    login(staff, therapist)
    assert "Not answered yet" in _item(staff.get(thread_url(participant)).get_data(as_text=True), invite.id)
    adm.submitted_at = now + dt.timedelta(hours=2)
    adm.status = "submitted"
    db.session.commit()
    html = staff.get(thread_url(participant)).get_data(as_text=True)
    block = _item(html, invite.id)
    assert "Answered" in block and "Not answered yet" not in block
    assert f'href="/me/questionnaires/{adm.id}"' not in block  # staff get no answer link


def test_a_reminder_is_a_second_system_message(participant) -> None:
    now = utcnow()
    adm = _administration(participant, now)
    measures.refresh_statuses(db.session, [adm], now=now)
    measures.send_reminders(db.session, now=now + dt.timedelta(days=3))
    db.session.commit()
    kinds = [m.system_kind for m in messages()]
    assert kinds[0] == "questionnaire_invite"
    assert kinds.count("questionnaire_reminder") <= 1
    if adm.reminded_at is not None:  # the trial's reminder delay passed
        assert kinds == ["questionnaire_invite", "questionnaire_reminder"]
