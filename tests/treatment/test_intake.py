"""Intake over HTTP: the patient's screening and the therapist's assessed profile, stored,
audit-logged, and moving the participant applicant -> screened -> eligible | excluded."""
from __future__ import annotations

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


def test_the_patient_answers_the_screening_once(participant, login_as) -> None:
    client = login_as(participant.user)
    assert "Answer the questions" in client.get("/me/").get_data(as_text=True)
    form = client.get("/me/intake").get_data(as_text=True)
    for key in PROBLEM_KEYS:
        assert f'name="rating_{key}"' in form
    data = {**_ratings(panic=8, insomnia=4), "free_text": "Mostly the bus.\x07"}
    assert client.post("/me/intake", data=data).status_code == 302
    assert client.post("/me/intake", data=data).status_code == 200  # the second time shows the answers
    [screening] = db.session.scalars(select(IntakeScreening)).all()
    assert screening.ratings["panic"] == 8 and screening.ratings["insomnia"] == 4 and screening.ratings["gad"] == 0
    assert screening.free_text == "Mostly the bus."
    assert _status(participant) == "screened"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.participant_id == participant.id)).all()
    assert "intake.screening_submit" in actions


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
    client.post("/auth/logout")


def test_the_therapist_records_an_eligible_profile(participant, therapist, login_as) -> None:
    _screened(participant, login_as(participant.user))
    client = login_as(therapist)
    page = client.get(f"/therapist/patients/{participant.id}/assessment").get_data(as_text=True)
    assert "How much each problem troubles the patient" in page
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
