"""The demo's measurement histories: complete, scored by the real code, shaped like the pilot."""
from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import func, select

from icbt.demo import seed_demo
from icbt.extensions import db
from icbt.measures.instruments import get_instrument
from icbt.measures.models import Administration, RiskAlert
from icbt.measures.scoring import score_answers
from icbt.measures.services import analysis_records
from icbt.trials.models import Trial

TODAY = dt.date(2026, 11, 26)


def _snapshot() -> list[tuple]:
    rows = db.session.execute(select(
        Administration.participant_id, Administration.instrument_id, Administration.timepoint, Administration.status,
        Administration.submitted_at, Administration.scores).order_by(Administration.id)).all()
    return [(a, b, c, d, e, str(f)) for a, b, c, d, e, f in rows]


def test_demo_measurement_histories(app) -> None:
    summary = seed_demo(db.session, seed=2026, today=TODAY)
    db.session.commit()
    assert summary.created["questionnaires answered"] > 150
    trial = db.session.scalar(select(Trial))
    records = analysis_records(db.session, trial.id)
    arms = {"treatment": [r for r in records if r["arm"] == "treatment"],
            "waitlist": [r for r in records if r["arm"] == "waitlist"]}
    # The screening is part of the intake: answered by everyone past it, never all of it by
    # an applicant (who would then be screened).
    from icbt.intake.services import screening_complete
    from icbt.trials.models import Participant

    for participant in db.session.scalars(select(Participant)):
        answered = db.session.scalar(select(func.count()).select_from(Administration).where(
            Administration.participant_id == participant.id, Administration.timepoint == "screening",
            Administration.submitted_at.is_not(None)))
        if participant.status == "applicant":
            assert not screening_complete(db.session, participant), participant.code
        else:
            assert answered == 2, (participant.code, participant.status)
    for arm, people in arms.items():
        with_pre = [r for r in people if r["core_om_pre"]]
        assert len(with_pre) >= 0.85 * len(people), arm
        for r in people:  # post only for those past the end of the treatment weeks
            if r["core_om_post"] is not None:
                assert (TODAY - r["start_date"]).days >= 7 * trial.weeks
        assert any(r["core_om_post"] for r in people), arm
    assert all(r["wai_week3"] is None and r["expected_alliance"] is None for r in arms["waitlist"])
    assert sum(r["wai_week3"] is not None for r in arms["treatment"]) >= 8
    assert sum(r["expected_alliance"] is not None for r in arms["treatment"]) >= 15
    statuses = dict(db.session.execute(select(Administration.status, func.count()).group_by(Administration.status)).all())
    assert statuses.get("missed", 0) >= 3 and statuses.get("late", 0) >= 1 and statuses.get("open", 0) >= 1
    submitted = db.session.scalars(select(Administration).where(Administration.submitted_at.is_not(None))).all()
    assert any(a.scores["missing_items"] for a in submitted)  # some items left blank
    for adm in submitted:  # stored scores are what the scoring code gives for the stored answers
        assert adm.scores == score_answers(get_instrument(adm.instrument_id), adm.answer_map()).as_json()
    alerts = db.session.scalars(select(RiskAlert)).all()
    assert alerts and any(a.acknowledged_at is None for a in alerts) and any(a.acknowledged_at for a in alerts)

    # The pilot's shape: week-3 alliance relates to residual gain (r about -.47), expected barely.
    done = [r for r in arms["treatment"] if r["core_om_pre"] and r["core_om_post"]]
    pre = np.array([r["core_om_pre"]["total_clinical"] for r in done])
    post = np.array([r["core_om_post"]["total_clinical"] for r in done])
    slope, intercept = np.polyfit(pre, post, 1)
    residual = {r["participant_id"]: p - (intercept + slope * q) for r, p, q in zip(done, post, pre)}

    def r_with(key: str) -> float:
        pairs = [(r[key]["total"], residual[r["participant_id"]]) for r in done if r[key] and r[key]["total"] is not None]
        x, y = np.array(pairs).T
        return float(np.corrcoef(x, y)[0, 1])

    assert -0.7 < r_with("wai_week3") < -0.25
    assert abs(r_with("expected_alliance")) < 0.35

    first = _snapshot()
    again = seed_demo(db.session, seed=2026, today=TODAY)
    db.session.commit()
    assert "questionnaires answered" not in again.created
    assert _snapshot() == first
