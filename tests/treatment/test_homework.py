"""Worksheets over HTTP: drafts (with and without JavaScript) survive reloads, handing in is
idempotent, a handed-in worksheet is read-only to the patient and visible to the therapist."""
from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.treatment.models import Homework, PageRead
from icbt.treatment.services import HomeworkLocked, mark_homework_reviewed
from tests.conftest import make_test_app

START = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.timezone.utc)  # Wednesday of week 1


@pytest.fixture
def week1(app, in_treatment, login_as, frozen_now):  # type: ignore[no-untyped-def]
    """A patient in week 1 of their plan, logged in, with the first module's first worksheet."""
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    item = plan.items[0]
    from icbt.content.services import module_of

    sheet = module_of(item.module_version).worksheets[0]
    client = login_as(participant.user)
    url = f"/me/modules/{item.id}/worksheets/{sheet.id}"
    return participant, item, sheet, client, url


def _first_text_name(sheet) -> str:  # type: ignore[no-untyped-def]
    for spec in sheet.fields:
        if spec.type == "text":
            return f"w.{spec.id}"
        if spec.type == "rows":
            for col in spec.columns:
                if col.type == "text":
                    return f"w.{spec.id}.0.{col.id}"
    raise AssertionError("the worksheet has no text field")


def _valid_answers(sheet) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A complete, valid answer to any worksheet, built from its field definitions."""
    def value(spec):  # type: ignore[no-untyped-def]
        if spec.type == "text":
            return "I went to the shop and stayed."
        if spec.type in ("number", "scale"):
            return str(int(spec.min if spec.min is not None else 0) + 1)
        return spec.options[0]

    data = {}
    for spec in sheet.fields:
        if spec.type == "rows":
            for r in range(max(spec.min_rows, 1)):
                for col in spec.columns:
                    data[f"w.{spec.id}.{r}.{col.id}"] = value(col)
        else:
            data[f"w.{spec.id}"] = value(spec)
    return data


def _homework_rows() -> list[Homework]:
    db.session.expire_all()
    return list(db.session.scalars(select(Homework)))


def test_the_worksheet_form_is_built_from_the_field_definitions(week1) -> None:
    _, _, sheet, client, url = week1
    html = client.get(url).get_data(as_text=True)
    assert sheet.title in html
    for spec in sheet.fields:
        assert spec.label in html
    assert 'data-autosave-url="' in html and "js/autosave.js" in html
    assert 'name="action" value="draft"' in html and 'name="action" value="submit"' in html
    assert re.search(r'name="submission_key" value="[0-9a-f]{32}"', html)


def test_a_draft_saved_without_javascript_survives_a_reload(week1) -> None:
    participant, _, sheet, client, url = week1
    name = _first_text_name(sheet)
    response = client.post(url, data={name: "Half a thought\x00 about the bus", "action": "draft"})
    assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "Half a thought about the bus" in html  # the NUL byte was dropped, the text kept
    [homework] = _homework_rows()
    assert homework.status == "draft" and homework.participant_id == participant.id
    saves = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "homework.draft_save"))
    assert saves == 1


def test_autosave_posts_the_draft_and_answers_with_json(week1) -> None:
    _, item, sheet, client, url = week1
    name = _first_text_name(sheet)
    response = client.post(url + "/draft", data={name: "typed before the phone died"})
    assert response.status_code == 200
    assert response.json["saved_at"] and response.json["message"].startswith("Draft saved at")
    assert "typed before the phone died" in client.get(url).get_data(as_text=True)
    response = client.post(url + "/draft", data={name: "and a little more"})
    assert response.status_code == 200
    [homework] = _homework_rows()
    assert homework.plan_item_id == item.id and "and a little more" in str(homework.data)


def test_handing_in_with_errors_keeps_everything_typed_as_a_draft(week1) -> None:
    _, _, sheet, client, url = week1
    answers = _valid_answers(sheet)
    numeric = next((k for k, s in _field_specs(sheet)
                    if s.type == "number" or (s.type == "scale" and s.max - s.min > 10)), None)
    assert numeric is not None
    answers[numeric] = "lots"
    response = client.post(url, data={**answers, "action": "submit"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Please write a number." in html or "Please choose a number" in html
    assert 'value="lots"' in html
    [homework] = _homework_rows()
    assert homework.status == "draft" and "lots" in str(homework.data)


def _field_specs(sheet):  # type: ignore[no-untyped-def]
    for spec in sheet.fields:
        if spec.type == "rows":
            for col in spec.columns:
                yield f"w.{spec.id}.0.{col.id}", col
        else:
            yield f"w.{spec.id}", spec


def test_an_empty_worksheet_cannot_be_handed_in(week1) -> None:
    _, _, _, client, url = week1
    html = client.post(url, data={"action": "submit"}).get_data(as_text=True)
    assert "Please" in html
    assert all(h.status == "draft" for h in _homework_rows())


def test_a_double_submit_hands_in_once_and_then_the_worksheet_is_read_only(week1, therapist, login_as) -> None:
    participant, _, sheet, client, url = week1
    answers = {**_valid_answers(sheet), "action": "submit", "submission_key": "k" * 32}
    first = client.post(url, data=answers)
    second = client.post(url, data=answers)
    assert first.status_code == second.status_code == 302
    [homework] = _homework_rows()
    assert homework.status == "submitted" and homework.submission_key == "k" * 32
    submitted_at = homework.submitted_at
    assert "already handed in" in client.get(url).get_data(as_text=True)
    # Read-only now: no form, and neither a draft nor an autosave changes it.
    html = client.get(url).get_data(as_text=True)
    assert 'name="action"' not in html and "I went to the shop and stayed." in html
    assert client.post(url + "/draft", data={_first_text_name(sheet): "changed"}).status_code == 409
    client.post(url, data={_first_text_name(sheet): "changed", "action": "draft"})
    [homework] = _homework_rows()
    assert "changed" not in str(homework.data) and homework.submitted_at == submitted_at
    submits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "homework.submit"))
    assert submits == 1
    # The therapist sees it.
    client.post("/auth/logout")
    therapist_client = login_as(therapist)
    patient_page = therapist_client.get(f"/therapist/patients/{participant.id}").get_data(as_text=True)
    assert sheet.title in patient_page and "to read" in patient_page
    page = therapist_client.get(f"/therapist/patients/{participant.id}/homework/{homework.id}")
    assert page.status_code == 200 and "I went to the shop and stayed." in page.get_data(as_text=True)
    assert therapist_client.post(f"/therapist/patients/{participant.id}/homework/{homework.id}/reviewed").status_code == 302
    [homework] = _homework_rows()
    assert homework.status == "reviewed" and homework.reviewed_by_id == therapist.id


def test_simultaneous_hand_ins_store_one_submission(week1, app) -> None:
    participant, _, sheet, client, url = week1
    answers = {**_valid_answers(sheet), "action": "submit"}
    cookie = client.get_cookie("session")
    results: list[int] = []

    def post() -> None:
        c = app.test_client()
        c.set_cookie("session", cookie.value)
        results.append(c.post(url, data=answers).status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [302, 302, 302]
    rows = _homework_rows()
    assert len(rows) == 1 and rows[0].status == "submitted"


def test_mark_homework_reviewed_is_idempotent_and_refuses_drafts(week1, therapist) -> None:
    participant, item, sheet, client, url = week1
    client.post(url, data={_first_text_name(sheet): "draft", "action": "draft"})
    [draft] = _homework_rows()
    with pytest.raises(HomeworkLocked):
        mark_homework_reviewed(db.session, draft, therapist)
    client.post(url, data={**_valid_answers(sheet), "action": "submit"})
    [homework] = _homework_rows()
    assert mark_homework_reviewed(db.session, homework, therapist) is True
    first_time = homework.reviewed_at
    assert mark_homework_reviewed(db.session, homework, therapist) is False
    assert homework.reviewed_at == first_time


def test_reading_a_page_is_recorded_once_per_page(week1) -> None:
    participant, item, _, client, _ = week1
    for _ in range(3):
        assert client.get(f"/me/modules/{item.id}/pages/1").status_code == 200
    assert client.get(f"/me/modules/{item.id}/pages/2").status_code == 200
    assert client.get(f"/me/modules/{item.id}/pages/99").status_code == 404
    reads = db.session.execute(select(PageRead.page).where(PageRead.participant_id == participant.id)).scalars().all()
    assert sorted(reads) == [1, 2]
    plan_page = client.get("/me/plan").get_data(as_text=True)
    assert "Pages read: 2 of" in plan_page


def test_autosave_needs_the_csrf_token(week1, database_url, tmp_path: Path) -> None:
    participant, item, sheet, _, url = week1
    strict = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    strict.config["FAKE_NOW"] = NOW
    client = strict.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"email": participant.user.email, "password": "correct-horse-battery",
                                     "csrf_token": token})
    html = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    name = _first_text_name(sheet)
    assert client.post(url + "/draft", data={name: "no token"}).status_code == 400
    ok = client.post(url + "/draft", data={name: "with token"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 200
    assert "with token" in str(_homework_rows()[0].data)
    strict.extensions["icbt.db"].dispose()
