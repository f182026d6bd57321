"""The admin's participant list: codes, stages and the therapist assignment (an applicant
without a therapist cannot be assessed by anyone until an admin assigns one)."""
from __future__ import annotations

from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.trials.models import Participant


def test_the_admin_assigns_a_therapist_who_can_then_assess(app, factory, admin, login_as) -> None:
    from tests.conftest import login

    therapist = factory.user("therapist", name="Tess Therapist")
    patient = factory.participant(status="screened")
    assert patient.therapist_id is None
    client = login_as(admin)
    page = client.get("/admin/participants").get_data(as_text=True)
    assert patient.code in page and "Tess Therapist" in page and patient.user.display_name not in page
    response = client.post(f"/admin/participants/{patient.id}/therapist", data={f"p{patient.id}-therapist": str(therapist.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Participant, patient.id).therapist_id == therapist.id
    line = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "participant.assign_therapist"))
    assert line.participant_id == patient.id and line.detail == {"therapist_id": therapist.id, "from": None}
    staff = app.test_client()
    login(staff, therapist)
    assert staff.get(f"/therapist/patients/{patient.id}/assessment").status_code == 200


def test_only_an_active_therapist_can_be_assigned(factory, admin, login_as) -> None:
    other_admin = factory.user("admin")
    patient = factory.participant()
    client = login_as(admin)
    client.post(f"/admin/participants/{patient.id}/therapist", data={f"p{patient.id}-therapist": str(other_admin.id)})
    db.session.expire_all()
    assert db.session.get(Participant, patient.id).therapist_id is None
    assert client.post("/admin/participants/999999/therapist", data={}).status_code == 404
