"""The audit trail: logins and denials logged, no health data inside, append-only (ORM
and PostgreSQL trigger, TRUNCATE still possible), admin page filtered and paged."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, select, text, update

from icbt.audit.models import AuditEvent
from icbt.audit.services import AuditDetailError, AuditLogIsAppendOnly, allow_detail_keys, record
from icbt.extensions import db
from tests.conftest import PASSWORD, login
from tests.security.conftest import logged_in_client
from tests.security.route_table import PARTICIPANT, ROUTES


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_logins_and_failures_are_logged_with_who_role_and_where(client, factory) -> None:
    user = factory.user()
    client.post("/auth/login", data={"email": user.email, "password": "wrong-password-here"})
    login(client, user)
    failed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
    ok = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert failed.actor_id is None and failed.ip == "127.0.0.1" and "email_hash" in failed.detail
    assert user.email not in str(failed.detail)
    assert (ok.actor_id, ok.actor_role, ok.ip) == (user.id, "patient", "127.0.0.1") and ok.at is not None


def test_staff_login_logs_password_step_and_second_factor(client, therapist) -> None:
    login(client, therapist)
    actions = _actions()
    assert "auth.password_ok" in actions
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "auth.login")) == {"second_factor": "totp"}


def test_reads_of_a_patient_and_denials_are_logged(client, factory, participant, therapist) -> None:
    other = factory.user("therapist")
    login(client, other)
    assert client.get(f"/therapist/patients/{participant.id}").status_code == 403
    denied = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "access.denied"))
    assert denied.actor_id == other.id and denied.detail["participant_id"] == participant.id


@pytest.mark.parametrize("key", ["answers", "score", "text", "message", "note", "password", "email", "name"])
def test_detail_keys_that_would_carry_health_data_are_refused(app, key) -> None:
    with pytest.raises(AuditDetailError):
        record(db.session, "test.event", detail={key: "x"})
    with pytest.raises(AuditDetailError):
        allow_detail_keys(key)
    db.session.rollback()


def test_undeclared_keys_fail_in_tests_and_are_dropped_in_production(app, monkeypatch, caplog) -> None:
    with pytest.raises(AuditDetailError, match="allow_detail_keys"):
        record(db.session, "test.event", detail={"mood_today": 3})
    monkeypatch.setitem(app.config, "AUDIT_STRICT", False)
    event = record(db.session, "test.event", detail={"mood_today": 3, "answers": [1, 2], "module_id": "m1"})
    assert event.detail == {"module_id": "m1"}
    db.session.rollback()


def test_control_characters_cannot_forge_log_lines(app) -> None:
    event = record(db.session, "auth.login\r\nadmin.granted", detail={"reason": "ok\nFAKE LINE\x00"})
    db.session.commit()
    assert "\n" not in event.action and "\r" not in event.action
    assert "\n" not in event.detail["reason"] and "\x00" not in event.detail["reason"]


def test_orm_refuses_to_change_or_delete_audit_lines(app) -> None:
    event = record(db.session, "test.event")
    db.session.commit()
    event.action = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    for statement in (update(AuditEvent).values(action="x"), delete(AuditEvent),
                      AuditEvent.__table__.update().values(action="x"), AuditEvent.__table__.delete()):
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "test.event"


@pytest.mark.postgres
def test_postgresql_trigger_refuses_update_and_delete_but_not_truncate(pg_url, tmp_path) -> None:
    from icbt import migrate
    from tests.conftest import Factory, make_test_app, scratch_postgres_database

    with scratch_postgres_database(pg_url) as url:
        app = make_test_app(url, tmp_path)
        migrate.upgrade(app)
        engine = app.extensions["icbt.db"]
        with app.app_context():
            user = Factory().user()  # writes a user.create line
            record(db.session, "auth.login", actor=user, target=user)  # a line whose actor_id is the user
            db.session.commit()
            uid = user.id
            db.session.remove()
        with engine.connect() as conn:
            for sql in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
                with pytest.raises(Exception, match="append-only"):
                    conn.execute(text(sql))
                conn.rollback()
        # Deleting a user still works: the foreign key's SET NULL is the one update allowed.
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM second_factors WHERE user_id = :u"), {"u": uid})
            conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": uid})
        with engine.connect() as conn:
            lines = conn.execute(text("SELECT actor_id FROM audit_events WHERE target_id = :u"), {"u": str(uid)}).all()
            assert len(lines) >= 2 and all(actor is None for (actor,) in lines)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
        engine.dispose()


def test_admin_filters_by_participant_and_user_and_pages(client, factory, admin, participant) -> None:
    other = factory.participant()
    for i in range(60):
        record(db.session, "participant.view", actor=participant.therapist, target=participant)
        record(db.session, "participant.view", actor=admin, target=other)
    db.session.commit()
    login(client, admin)
    page = client.get(f"/admin/audit/?participant={participant.code}").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td>", page)
    assert len(rows) == 50  # one page
    assert other.code not in page and participant.code in page
    older = re.search(r'href="(/admin/audit/\?before=\d+[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "participant=" in older
    second = client.get(older).get_data(as_text=True)
    assert len(re.findall(r"<tr>\s*<td>", second)) == 60 - 50 + 1  # the enrolment line too
    by_user = client.get(f"/admin/audit/?user={admin.email}").get_data(as_text=True)
    user_rows = by_user.split("<tbody>")[1].split("<tr>")[1:]
    assert len(user_rows) == 50
    assert all(f"<td>{admin.email}</td>" in row for row in user_rows)  # only the admin's own lines
    assert not any("participant.view" in row and participant.code in row for row in user_rows)
    by_id = client.get(f"/admin/audit/?participant={other.id}&action=participant.").get_data(as_text=True)
    assert other.code in by_id
    unknown = client.get("/admin/audit/?participant=P-NOPE").get_data(as_text=True)
    assert "No participant has this code or number." in unknown
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "audit.view")) == 5


def test_only_admins_see_the_audit_log(client, factory) -> None:
    login(client, factory.user("therapist"))
    assert client.get("/admin/audit/").status_code == 403


# ---------------------------------------------------------------- every read of health data

def _lines_since(mark: int, actor_id: int) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > mark, AuditEvent.actor_id == actor_id)))


def _mark() -> int:
    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


READS = [r for r in ROUTES if r.owner == PARTICIPANT and 200 in r.ok.get("GET", set())]


@pytest.mark.parametrize("route", READS, ids=lambda r: r.endpoint)
def test_every_page_of_a_participants_data_logs_the_read(app, world, route) -> None:  # type: ignore[no-untyped-def]
    """Each role that may open the page, on its own participant: an audit line naming the
    participant and the reader."""
    for role in ("patient", "therapist", "admin"):
        if role not in route.roles:
            continue
        user = world.user(role)
        url = app.url_map.bind("localhost").build(route.endpoint, route.args(world, world.own_participant))
        client = logged_in_client(app, user)
        mark = _mark()
        assert client.get(url).status_code == 200, url
        lines = _lines_since(mark, user.id)
        assert any(line.participant_id == world.own_participant.id for line in lines), (
            f"{route.endpoint} as {role}: no audit line for the participant ({[l.action for l in lines]})")


@pytest.mark.parametrize("endpoint", ["patient.dashboard", "patient_programme.plan", "messaging.patient_thread"])
def test_the_patients_own_pages_log_the_read(app, world, endpoint) -> None:  # type: ignore[no-untyped-def]
    from tests.security.route_table import _plan

    _plan(world, world.own_participant)  # an approved plan: the plan page shows it
    db.session.commit()
    client = logged_in_client(app, world.patient)
    mark = _mark()
    assert client.get(app.url_map.bind("localhost").build(endpoint, {})).status_code == 200
    lines = _lines_since(mark, world.patient.id)
    assert any(line.participant_id == world.own_participant.id for line in lines), [l.action for l in lines]


def test_the_therapists_lists_log_the_read(app, world) -> None:  # type: ignore[no-untyped-def]
    client = logged_in_client(app, world.therapist)
    for path, action in (("/therapist/", "caseload.view"), ("/therapist/messages", "inbox.view")):
        mark = _mark()
        assert client.get(path).status_code == 200
        assert [line.action for line in _lines_since(mark, world.therapist.id)] == [action]
