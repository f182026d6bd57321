"""Every view states its role; patient data is scoped to its owner and caseload."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("patient", "/me/", 200), ("patient", "/therapist/", 403), ("patient", "/admin/", 403),
        ("therapist", "/me/", 403), ("therapist", "/therapist/", 200), ("therapist", "/admin/", 403),
        ("admin", "/me/", 403), ("admin", "/therapist/", 403), ("admin", "/admin/", 200),
    ],
)
def test_each_dashboard_belongs_to_its_role(factory, login_as, role, path, status) -> None:
    client = login_as(factory.user(role))
    assert client.get(path).status_code == status


def test_denials_are_audit_logged(factory, login_as) -> None:
    user = factory.user("patient")
    login_as(user).get("/admin/")
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert [e.actor_id for e in denied] == [user.id]


def test_therapist_sees_only_own_caseload(factory, login_as) -> None:
    mine, other = factory.user("therapist"), factory.user("therapist")
    own_patient = factory.participant(therapist=mine)
    foreign_patient = factory.participant(therapist=other)
    client = login_as(mine)
    caseload = client.get("/therapist/").get_data(as_text=True)
    assert own_patient.code in caseload
    assert foreign_patient.code not in caseload
    assert client.get(f"/therapist/patients/{own_patient.id}").status_code == 200
    assert client.get(f"/therapist/patients/{foreign_patient.id}").status_code == 403
    assert client.get("/therapist/patients/999999").status_code == 404
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "participant.view")).all()
    assert [(v.actor_id, v.participant_id) for v in views] == [(mine.id, own_patient.id)]


def test_patient_dashboard_shows_only_own_record(factory, login_as) -> None:
    first, second = factory.participant(), factory.participant()
    html = login_as(first.user).get("/me/").get_data(as_text=True)
    assert first.code in html
    assert second.code not in html


def test_admin_dashboard_counts_participants_by_arm(factory, login_as) -> None:
    trial = factory.trial(name="Counting trial")
    for arm in ("treatment", "treatment", "waitlist"):
        factory.participant(trial=trial, arm=arm, status="active")
    html = login_as(factory.user("admin")).get("/admin/").get_data(as_text=True)
    assert "Counting trial" in html
    assert '<td>Treatment</td><td>In programme</td><td class="num">2</td>' in html
    assert '<td>Waiting list</td><td>In programme</td><td class="num">1</td>' in html
