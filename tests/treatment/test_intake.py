"""Intake over HTTP: the patient's screening and the therapist's assessed profile, stored,
audit-logged, and moving the participant applicant -> screened -> eligible | excluded."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.intake import services as intake_services
from icbt.intake.models import AssessedProfile, IntakeScreening
from icbt.tailoring.problems import PROBLEM_KEYS
from icbt.trials.models import Participant


def _ratings(**given: int) -> dict[str, str]:
    return {f"rating_{k}": str(given.get(k, 0)) for k in PROBLEM_KEYS}


def _status(participant: Participant) -> str:
    db.session.expire_all()
    return db.session.get(Participant, participant.id).status


def _questionnaire_links(html: str) -> list[str]:
    return re.findall(r'href="(/me/questionnaires/\d+)"', html)


def _send_questionnaire(client, url: str, value: int = 0, **item: int) -> str:  # type: ignore[no-untyped-def]
    """Answer every item ``value`` (``item`` overrides, e.g. item_9=1) and send; the sent page."""
    html = client.get(url).get_data(as_text=True)
    numbers = sorted({int(n) for n in re.findall(r'name="item_(\d+)"', html)})
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html).group(1)
    data = {f"item_{n}": str(item.get(f"item_{n}", value)) for n in numbers}
    response = client.post(url, data={**data, "send": "1", "idempotency_key": key})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_patient_answers_the_screening_once(participant, login_as) -> None:
    client = login_as(participant.user)
    assert "Answer the questions" in client.get("/me/").get_data(as_text=True)
    form = client.get("/me/intake").get_data(as_text=True)
    for key in PROBLEM_KEYS:
        assert f'name="rating_{key}"' in form
    assert "After them come 2 short questionnaires" in form
    data = {**_ratings(panic=8, insomnia=4), "free_text": "Mostly the bus.\x07"}
    response = client.post("/me/intake", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/me/intake"
    assert client.post("/me/intake", data=data).status_code == 200  # the second time shows the answers
    [screening] = db.session.scalars(select(IntakeScreening)).all()
    assert screening.ratings["panic"] == 8 and screening.ratings["insomnia"] == 4 and screening.ratings["gad"] == 0
    assert screening.free_text == "Mostly the bus."
    # The ratings are in, the questionnaires not yet: still an applicant, asked to go on.
    assert _status(participant) == "applicant"
    assert "Go on with the questions" in client.get("/me/").get_data(as_text=True)
    page = client.get("/me/intake").get_data(as_text=True)
    links = _questionnaire_links(page)
    assert len(links) == 2 and "Worry and nervousness" in page and "Mood over the last two weeks" in page
    sent = _send_questionnaire(client, links[0], 1)
    assert "Back to the questions about you" in sent
    assert _status(participant) == "applicant"
    _send_questionnaire(client, links[1], 0)
    assert _status(participant) == "screened"
    page = client.get("/me/intake").get_data(as_text=True)
    assert _questionnaire_links(page) == [] and "your answers have been sent" in page
    assert "First step" not in client.get("/me/").get_data(as_text=True)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.participant_id == participant.id)).all()
    assert "intake.screening_submit" in actions and actions.count("administration.submit") == 2


def test_questionnaires_sent_before_the_ratings_count_too(participant, login_as) -> None:
    """The periodic task may have made the screening questionnaires before the patient sent
    the ratings (the dashboard lists them only through the intake): answered first, the
    ratings then complete the intake."""
    from icbt.measures import screening

    administrations = screening.start(db.session, participant)
    db.session.commit()
    client = login_as(participant.user)
    assert _questionnaire_links(client.get("/me/").get_data(as_text=True)) == []
    for adm in administrations:
        _send_questionnaire(client, f"/me/questionnaires/{adm.id}")
    assert _status(participant) == "applicant"
    client.post("/me/intake", data=_ratings(gad=6))
    assert _status(participant) == "screened"


def test_a_phq9_self_harm_answer_alerts_the_therapist(app, participant, therapist, login_as) -> None:
    from icbt.measures.models import RiskAlert
    from tests.conftest import login

    client = login_as(participant.user)
    client.post("/me/intake", data=_ratings(depression=8))
    phq = [u for u in _questionnaire_links(client.get("/me/intake").get_data(as_text=True))][1]
    sent = _send_questionnaire(client, phq, 1, item_9=2)
    assert "If you need help now" in sent
    [alert] = db.session.scalars(select(RiskAlert)).all()
    assert (alert.instrument_id, alert.item_number, alert.answer) == ("phq-9", 9, 2)
    staff = app.test_client()
    login(staff, therapist)
    assert "Thoughts of self-harm" in staff.get(f"/therapist/patients/{participant.id}").get_data(as_text=True)


def test_a_missing_or_bad_rating_is_a_form_error(participant, login_as) -> None:
    client = login_as(participant.user)
    data = _ratings(panic=3)
    data.pop("rating_gad")
    data["rating_stress"] = "11"
    html = client.post("/me/intake", data=data).get_data(as_text=True)
    assert html.count("Please choose a number from 0 to 10.") >= 1
    assert "Not a valid choice" in html or "Please choose" in html
    assert db.session.scalar(select(func.count()).select_from(IntakeScreening)) == 0
    assert _status(participant) == "applicant"


def test_further_screening_parts_hold_the_status_until_done(participant, login_as, monkeypatch) -> None:
    """The measures work adds GAD-7/PHQ-9 as screening parts; until they are in, no 'screened'."""
    done = {"flag": False}
    monkeypatch.setattr(intake_services, "SCREENING_PARTS", [lambda session, p: done["flag"]])
    client = login_as(participant.user)
    client.post("/me/intake", data=_ratings(gad=6))
    assert _status(participant) == "applicant"
    done["flag"] = True
    intake_services.update_screening_status(db.session, db.session.get(Participant, participant.id))
    db.session.commit()
    assert _status(participant) == "screened"


def _screened(participant, client) -> None:  # type: ignore[no-untyped-def]
    client.post("/me/intake", data=_ratings(panic=7, gad=5))
    gad, phq = _questionnaire_links(client.get("/me/intake").get_data(as_text=True))
    _send_questionnaire(client, gad, 2)  # GAD-7 = 14
    _send_questionnaire(client, phq, 1, item_9=0)  # PHQ-9 = 8
    client.post("/auth/logout")


def test_the_therapist_records_an_eligible_profile(participant, therapist, login_as) -> None:
    _screened(participant, login_as(participant.user))
    client = login_as(therapist)
    page = client.get(f"/therapist/patients/{participant.id}/assessment").get_data(as_text=True)
    assert "How much each problem troubles the patient" in page
    # The screening questionnaires' scores and bands (7 x 2 = 14: moderate; 8 x 1 = 8: mild).
    flat = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "GAD-7 14 Moderate" in flat and "PHQ-9 8 Mild" in flat
    data = {"eligible": "yes", "primary": "panic", "primary_severity": "severe",
            "comorbid_gad": "moderate", "comorbid_insomnia": "mild", "reason": ""}
    assert client.post(f"/therapist/patients/{participant.id}/assessment", data=data).status_code == 302
    [profile] = db.session.scalars(select(AssessedProfile)).all()
    assert (profile.primary_problem, profile.primary_severity, profile.eligible) == ("panic", "severe", True)
    assert profile.comorbid_pairs == [("gad", "moderate"), ("insomnia", "mild")]
    assert profile.assessed_by_id == therapist.id
    assert _status(participant) == "eligible"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "intake.assessment")) == 1
    # A re-assessment before randomisation adds a row; the latest counts.
    data.update(eligible="no", reason="Needs a different kind of care first.")
    client.post(f"/therapist/patients/{participant.id}/assessment", data=data)
    assert db.session.scalar(select(func.count()).select_from(AssessedProfile)) == 2
    assert _status(participant) == "excluded"


def test_assessment_errors_are_shown_on_the_fields(participant, therapist, login_as) -> None:
    _screened(participant, login_as(participant.user))
    client = login_as(therapist)
    url = f"/therapist/patients/{participant.id}/assessment"
    html = client.post(url, data={"eligible": "yes"}).get_data(as_text=True)
    assert "Choose the primary problem." in html and "Choose how severe the primary problem is." in html
    html = client.post(url, data={"eligible": "no", "reason": "  "}).get_data(as_text=True)
    assert "Say why the person is not eligible." in html
    html = client.post(url, data={"eligible": "yes", "primary": "gad", "primary_severity": "mild",
                                  "comorbid_gad": "mild"}).get_data(as_text=True)
    assert "cannot also be comorbid" in html
    html = client.post(url, data={"eligible": "yes", "primary": "nonsense", "primary_severity": "mild"}).get_data(as_text=True)
    assert "Not a valid choice" in html
    assert db.session.scalar(select(func.count()).select_from(AssessedProfile)) == 0
    assert _status(participant) == "screened"


def test_the_assessment_is_closed_before_screening_and_after_randomisation(participant, therapist, login_as) -> None:
    client = login_as(therapist)
    url = f"/therapist/patients/{participant.id}/assessment"
    data = {"eligible": "yes", "primary": "panic", "primary_severity": "mild"}
    client.post(url, data=data)
    assert db.session.scalar(select(func.count()).select_from(AssessedProfile)) == 0
    participant.status = "randomised"
    db.session.commit()
    client.post(url, data=data)
    assert db.session.scalar(select(func.count()).select_from(AssessedProfile)) == 0
