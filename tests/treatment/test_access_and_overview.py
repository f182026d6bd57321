"""Access: a patient never reaches another patient's plan, pages or homework by changing an
id; a therapist only their own caseload. And the caseload overview in a bounded number of
queries, with the right figures."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from icbt.content.services import module_of
from icbt.extensions import db
from icbt.treatment.models import Homework
from icbt.treatment.overview import treatment_overview
from icbt.treatment.services import mark_homework_reviewed, record_page_read, save_draft

START = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)  # week 2 in Stockholm


@pytest.fixture
def two_patients(in_treatment, factory, frozen_now):  # type: ignore[no-untyped-def]
    frozen_now(NOW)
    other_therapist = factory.user("therapist")
    mine, my_plan = in_treatment(START)
    theirs, their_plan = in_treatment(START, therapist_user=other_therapist)
    item = their_plan.items[0]
    sheet = module_of(item.module_version).worksheets[0]
    homework = save_draft(db.session, theirs, item, sheet, {"x": "secret"})
    homework.status, homework.submitted_at = "submitted", NOW
    db.session.commit()
    return mine, my_plan, theirs, their_plan, other_therapist, homework


def test_a_patient_cannot_reach_another_patients_plan_or_homework(two_patients, login_as) -> None:
    mine, my_plan, theirs, their_plan, _, homework = two_patients
    client = login_as(mine.user)
    item = their_plan.items[0]
    sheet_id = homework.worksheet_id
    for url in (f"/me/modules/{item.id}", f"/me/modules/{item.id}/pages/1",
                f"/me/modules/{item.id}/worksheets/{sheet_id}"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 404, url
        assert "secret" not in response.get_data(as_text=True)
    assert client.post(f"/me/modules/{item.id}/worksheets/{sheet_id}/draft", data={"w.x": "overwrite"}).status_code == 404
    assert client.post(f"/me/modules/{item.id}/worksheets/{sheet_id}", data={"action": "submit"}).status_code == 404
    assert client.get(f"/me/modules/{my_plan.items[0].id}/pages/1").status_code == 200
    db.session.expire_all()
    assert db.session.get(Homework, homework.id).data == {"x": "secret"}
    # Staff pages are not for patients at all.
    assert client.get(f"/therapist/patients/{mine.id}/plan").status_code == 403
    assert client.get(f"/therapist/patients/{theirs.id}/homework/{homework.id}").status_code == 403


def test_a_therapist_sees_only_their_caseload(two_patients, therapist, login_as) -> None:
    mine, _, theirs, their_plan, _, homework = two_patients
    client = login_as(therapist)
    assert client.get(f"/therapist/patients/{mine.id}/plan").status_code == 200
    for url in (f"/therapist/patients/{theirs.id}/plan", f"/therapist/patients/{theirs.id}/assessment",
                f"/therapist/patients/{theirs.id}/homework/{homework.id}"):
        assert client.get(url).status_code == 403, url
    for url in (f"/therapist/patients/{theirs.id}/plan/approve", f"/therapist/patients/{theirs.id}/plan/change",
                f"/therapist/patients/{theirs.id}/plan/items/{their_plan.items[3].id}/unlock",
                f"/therapist/patients/{theirs.id}/homework/{homework.id}/reviewed"):
        assert client.post(url, data={"reason": "x" * 10}).status_code == 403, url
    # Someone else's homework id under one's own patient: not found.
    assert client.get(f"/therapist/patients/{mine.id}/homework/{homework.id}").status_code == 404
    assert client.get("/therapist/patients/999999/plan").status_code == 404
    db.session.expire_all()
    assert db.session.get(Homework, homework.id).status == "submitted"
    assert client.get("/admin/randomisation").status_code == 403


def test_drafts_stay_private_until_handed_in(in_treatment, therapist, login_as, frozen_now) -> None:
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    item = plan.items[0]
    sheet = module_of(item.module_version).worksheets[0]
    draft = save_draft(db.session, participant, item, sheet, {"x": "not ready"})
    db.session.commit()
    client = login_as(therapist)
    assert client.get(f"/therapist/patients/{participant.id}/homework/{draft.id}").status_code == 404
    assert "not ready" not in client.get(f"/therapist/patients/{participant.id}").get_data(as_text=True)


# ------------------------------------------------------------------ caseload overview

def _count_queries(fn):  # type: ignore[no-untyped-def]
    statements: list[str] = []
    engine = db.engine

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        result = fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return result, [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_the_overview_takes_the_same_few_queries_for_3_or_30_patients(in_treatment, therapist, frozen_now) -> None:
    frozen_now(NOW)
    ids = [in_treatment(START - dt.timedelta(days=7 * (i % 4)))[0].id for i in range(30)]
    db.session.expire_all()
    _, small = _count_queries(lambda: treatment_overview(db.session, ids[:3], at=NOW))
    db.session.expire_all()
    result, large = _count_queries(lambda: treatment_overview(db.session, ids, at=NOW))
    assert len(small) == len(large) <= 4
    assert len(result) == 30


def test_the_overview_figures(in_treatment, therapist, frozen_now) -> None:
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    idle, _ = in_treatment(START)
    items = sorted(plan.items, key=lambda i: i.position)
    first, second = items[0], items[1]
    sheet1 = module_of(first.module_version).worksheets[0]
    sheet2 = module_of(second.module_version).worksheets[0]
    read_at = NOW - dt.timedelta(hours=5)
    record_page_read(db.session, participant, first, 1, at=read_at)
    hw = save_draft(db.session, participant, first, sheet1, {}, at=NOW - dt.timedelta(days=3))
    hw.status, hw.submitted_at, hw.data = "submitted", NOW - dt.timedelta(days=3), {"done": True}
    save_draft(db.session, participant, second, sheet2, {"a": "b"}, at=NOW - dt.timedelta(days=1))
    db.session.commit()
    overview = treatment_overview(db.session, [participant.id, idle.id, 999999], at=NOW)
    o = overview[participant.id]
    assert (o.plan_status, o.week, o.n_modules) == ("approved", 2, len(items))
    assert o.current_module_key == second.module_key
    assert o.current_module_title == module_of(second.module_version).title
    assert (o.homework_waiting, o.homework_drafts) == (1, 1)
    assert o.last_activity_at == read_at
    mark_homework_reviewed(db.session, hw, therapist)
    db.session.commit()
    assert treatment_overview(db.session, [participant.id], at=NOW)[participant.id].homework_waiting == 0
    assert overview[idle.id].last_activity_at is None and overview[idle.id].week == 2
    assert overview[999999].plan_status is None
    # The week changes at local midnight: Sunday 15 March 22:59 UTC is still week 2 in Stockholm.
    late = dt.datetime(2026, 3, 15, 22, 59, tzinfo=dt.timezone.utc)
    assert treatment_overview(db.session, [idle.id], at=late)[idle.id].week == 2
    assert treatment_overview(db.session, [idle.id], at=late + dt.timedelta(minutes=1))[idle.id].week == 3
