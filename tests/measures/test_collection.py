"""Collection over HTTP: what is due, the phone-friendly form, drafts, double submits,
access by id, risk pages, acknowledgement and corrections."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from icbt.extensions import db
from icbt.measures import services
from icbt.measures.models import Administration, AdministrationAnswer, RiskAlert
from tests.measures.conftest import core_answers


@pytest.fixture
def live(factory, trial, therapist):  # type: ignore[no-untyped-def]
    """A treatment participant whose pre-treatment window is open by the real clock."""
    p = factory.participant(trial=trial, therapist=therapist, arm="treatment", status="randomised",
                            start_date=dt.date.today() + dt.timedelta(days=3))
    services.materialise_schedule(db.session, p)
    db.session.commit()
    return p


def _adm(participant, instrument="core-om", timepoint="pre") -> Administration:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(Administration).where(
        Administration.participant_id == participant.id, Administration.instrument_id == instrument,
        Administration.timepoint == timepoint))


def _form(answers: dict[int, int], **extra: str) -> dict[str, str]:
    data = {f"item_{n}": str(v) for n, v in answers.items()}
    data.update(extra)
    return data


def _key(html: str) -> str:
    match = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html) or \
        re.search(r'id="idempotency_key" name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html)
    assert match, "the form carries an idempotency key"
    return match.group(1)


def test_dashboard_shows_what_is_due_and_until_when(live, login_as) -> None:
    html = login_as(live.user).get("/me/").get_data(as_text=True)
    pre = _adm(live)
    assert f"/me/questionnaires/{pre.id}" in html
    assert f"/me/questionnaires/{_adm(live, 'expected-alliance').id}" in html
    assert "How you have been over the last week" in html
    local_close = pre.closes_at.astimezone(dt.timezone(dt.timedelta(hours=0)))  # shown in the trial zone
    assert "Answer by" in html and "(Europe/Stockholm)" in html and str(local_close.year) in html
    assert f"/me/questionnaires/{_adm(live, 'wai-s', 'week3').id}" not in html  # not open yet


def test_the_form_is_one_fieldset_per_question_without_tables(live, login_as) -> None:
    html = login_as(live.user).get(f"/me/questionnaires/{_adm(live).id}").get_data(as_text=True)
    assert html.count("<fieldset") == 34 and html.count("<legend>") == 34
    assert "<table" not in html
    assert html.count('type="radio"') == 34 * 5
    assert 'name="item_9"' in html and "Thoughts of self-injury" in html  # our own label
    assert 'for="item_1-0"' in html and 'id="item_1-0"' in html  # each radio has its label
    assert "questionnaire.js" in html and "<script>" not in html  # no inline script (CSP)


def test_a_draft_survives_a_reload(live, login_as) -> None:
    client = login_as(live.user)
    url = f"/me/questionnaires/{_adm(live).id}"
    response = client.post(url, data=_form({1: 3, 2: 1}, save="1", idempotency_key="x"))
    assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert re.search(r'id="item_1-3" name="item_1" value="3" checked', html)
    assert re.search(r'id="item_2-1" name="item_2" value="1" checked', html)
    assert not re.search(r'name="item_3" value="\d" checked', html)
    autosave = client.post(f"{url}/draft", data={"item_3": "4", "item_99": "1", "item_4": "zz"})
    assert autosave.status_code == 200 and autosave.get_json()["saved"] == 3
    db.session.expire_all()
    assert _adm(live).draft == {"1": 3, "2": 1, "3": 4}
    assert "started, not sent" in client.get("/me/").get_data(as_text=True)


def test_sending_with_unanswered_questions_asks_first(live, login_as) -> None:
    client = login_as(live.user)
    url = f"/me/questionnaires/{_adm(live).id}"
    answers = {n: v for n, v in core_answers(1).items() if n not in (5, 17)}
    key = _key(client.get(url).get_data(as_text=True))
    first = client.post(url, data=_form(answers, send="1", idempotency_key=key))
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "2 questions are not answered" in html
    assert 'href="#q-5"' in html and 'href="#q-17"' in html
    db.session.expire_all()
    assert not _adm(live).is_submitted and len(_adm(live).draft) == 32
    sent = client.post(url, data=_form(answers, send="1", confirm_incomplete="y", idempotency_key=_key(html)))
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"{url}/sent")
    db.session.expire_all()
    adm = _adm(live)
    assert adm.status == "submitted" and adm.scores["missing_items"] == [5, 17]
    assert adm.scores["scores"]["wellbeing"] is None  # item 17 is a well-being item: none may be missing
    assert adm.scores["scores"]["total"] is not None
    follow = client.get(f"{url}/sent").get_data(as_text=True)
    assert "your answers are sent" in follow and "If you need help now" not in follow


def test_sending_twice_stores_one_administration(live, login_as) -> None:
    client = login_as(live.user)
    url = f"/me/questionnaires/{_adm(live).id}"
    key = _key(client.get(url).get_data(as_text=True))
    data = _form(core_answers(2), send="1", idempotency_key=key)
    assert client.post(url, data=data).status_code == 302
    again = client.post(url, data=data)  # double click / resend after a timeout
    assert again.status_code == 302 and again.headers["Location"].endswith("/sent")
    other = client.post(url, data=_form(core_answers(4), send="1", idempotency_key="f" * 32))
    assert other.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AdministrationAnswer)) == 34
    db.session.expire_all()
    assert _adm(live).answer_map() == core_answers(2)
    assert "already sent" in client.get(url, follow_redirects=True).get_data(as_text=True)


@pytest.mark.parametrize("value", ["9", "-1", "abc", "1.5", "\x00"])
def test_a_bad_answer_is_a_form_error_not_a_500(live, login_as, value: str) -> None:
    client = login_as(live.user)
    url = f"/me/questionnaires/{_adm(live).id}"
    response = client.post(url, data=_form(core_answers(1), send="1", idempotency_key="a" * 32) | {"item_3": value})
    assert response.status_code == 200
    assert "Choose one of the answers." in response.get_data(as_text=True)
    db.session.expire_all()
    assert not _adm(live).is_submitted


def test_a_patient_cannot_reach_another_patients_questionnaire(live, factory, trial, login_as) -> None:
    other = factory.participant(trial=trial, arm="treatment", status="randomised",
                                start_date=dt.date.today() + dt.timedelta(days=3))
    client = login_as(other.user)
    target = _adm(live)
    url = f"/me/questionnaires/{target.id}"
    assert client.get(url).status_code == 403
    assert client.post(url, data=_form(core_answers(1), send="1", idempotency_key="b" * 32)).status_code == 403
    assert client.post(f"{url}/draft", data={"item_1": "2"}).status_code == 403
    assert client.get(f"{url}/sent").status_code == 403
    assert client.get("/me/questionnaires/987654").status_code == 404
    assert client.get(f"/staff/administrations/{target.id}").status_code == 403
    db.session.expire_all()
    assert not _adm(live).is_submitted and _adm(live).draft == {}


def test_staff_cannot_use_the_patient_form_and_therapists_only_see_their_caseload(live, factory, login_as) -> None:
    stranger = factory.user("therapist")
    client = login_as(stranger)
    assert client.get(f"/me/questionnaires/{_adm(live).id}").status_code == 403
    assert client.get(f"/staff/participants/{live.id}/measures").status_code == 403
    assert client.get(f"/staff/administrations/{_adm(live).id}").status_code == 403


def test_a_risk_answer_shows_help_alerts_the_therapist_and_is_acknowledged(live, therapist, factory, login_as, client) -> None:
    live.trial.settings = {**live.trial.settings, "urgent_help_text": "Call the trial's crisis line: 000-TEST."}
    db.session.commit()
    patient_client = login_as(live.user)
    url = f"/me/questionnaires/{_adm(live).id}"
    key = _key(patient_client.get(url).get_data(as_text=True))
    patient_client.post(url, data=_form(core_answers(1, i16=2), send="1", idempotency_key=key))
    sent = patient_client.get(f"{url}/sent").get_data(as_text=True)
    assert "If you need help now" in sent and "000-TEST" in sent
    patient_client.post("/auth/logout")

    staff = login_as(therapist)
    caseload = staff.get("/therapist/").get_data(as_text=True)
    assert "Risk alerts to acknowledge" in caseload and f"/therapist/patients/{live.id}" in caseload
    page = staff.get(f"/therapist/patients/{live.id}").get_data(as_text=True)
    assert "1 risk alert to acknowledge" in page and "item 16" in page and "answer 2" in page
    alert = db.session.scalar(select(RiskAlert))
    empty = staff.post(f"/staff/alerts/{alert.id}/acknowledge", data={"note": ""})
    assert empty.status_code == 200 and "Write a short note" in empty.get_data(as_text=True)
    done = staff.post(f"/staff/alerts/{alert.id}/acknowledge", data={"note": "Called her; she is safe tonight."})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(RiskAlert, alert.id).acknowledged_by_id == therapist.id
    assert "risk alert to acknowledge" not in staff.get(f"/therapist/patients/{live.id}").get_data(as_text=True)
    assert "Risk alerts to acknowledge" not in staff.get("/therapist/").get_data(as_text=True)


def test_the_admin_sees_the_unacknowledged_count(live, factory, login_as) -> None:
    pre = _adm(live)
    services.submit(db.session, pre, core_answers(1, i9=1, i24=1), idempotency_key="k")
    db.session.commit()
    client = login_as(factory.user("admin"))
    html = client.get("/admin/").get_data(as_text=True)
    assert '<span class="badge">2</span>' in html
    listing = client.get("/admin/alerts").get_data(as_text=True)
    assert listing.count("Acknowledge") == 2 and live.code in listing


def test_a_therapist_corrects_answers_as_a_new_record(live, therapist, factory, login_as) -> None:
    pre = _adm(live)
    services.submit(db.session, pre, core_answers(1), idempotency_key="k")
    db.session.commit()
    client = login_as(therapist)
    form_html = client.get(f"/staff/administrations/{pre.id}/correct").get_data(as_text=True)
    assert re.search(r'name="item_1" value="1" checked', form_html)
    missing_reason = client.post(f"/staff/administrations/{pre.id}/correct", data=_form(core_answers(3), reason=""))
    assert missing_reason.status_code == 200 and "Give the reason" in missing_reason.get_data(as_text=True)
    done = client.post(f"/staff/administrations/{pre.id}/correct",
                       data=_form(core_answers(3), reason="Paper form transcribed wrongly"))
    assert done.status_code == 302
    rows = db.session.scalars(select(Administration).where(Administration.instrument_id == "core-om",
                                                            Administration.timepoint == "pre")
                              .order_by(Administration.revision)).all()
    assert [(r.revision, r.correction_reason) for r in rows] == [(0, None), (1, "Paper form transcribed wrongly")]
    assert rows[0].answer_map() == core_answers(1) and rows[1].answer_map() == core_answers(3)
    page = client.get(f"/staff/participants/{live.id}/measures").get_data(as_text=True)
    assert "correction 1" in page and "No licensed wording is installed" in page
