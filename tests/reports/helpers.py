"""Build small trials with real administrations and answers (scored by the measures code)."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from icbt.extensions import db
from icbt.measures.instruments import get_instrument
from icbt.measures.models import Administration, AdministrationAnswer
from icbt.measures.scoring import score_answers
from icbt.trials.models import Participant, Trial
from icbt.trials.services import enrol
from icbt.users.models import Role
from icbt.users.services import create_user
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
WHEN = {"screening": T0 - dt.timedelta(days=21), "pre": T0 - dt.timedelta(days=5),
        "week3": T0 + dt.timedelta(days=20), "post": T0 + dt.timedelta(days=71)}


def answers_at(instrument_id: str, level: float, rng: random.Random, *, missing: int = 0) -> dict[int, int]:
    """Raw answers whose scored values scatter around ``level`` (on the item scale)."""
    inst = get_instrument(instrument_id)
    out: dict[int, int] = {}
    for item in inst.items:
        if item.risk:
            scored = 0 if rng.random() < 0.85 else 1
        else:
            scored = round(level + rng.gauss(0, 0.7))
        scored = max(item.minimum, min(item.maximum, scored))
        out[item.number] = item.minimum + item.maximum - scored if item.reversed else scored
    for number in rng.sample(sorted(out), missing):
        del out[number]
    return out


def administer(participant: Participant, instrument_id: str, timepoint: str, answers: dict[int, int] | None, *,
               status: str = "submitted", revision: int = 0, supersedes: Administration | None = None,
               reason: str | None = None) -> Administration:
    inst = get_instrument(instrument_id)
    opens = WHEN[timepoint]
    submitted = status in ("submitted", "late") and answers is not None
    adm = Administration(
        participant_id=participant.id, instrument_id=instrument_id, instrument_version=inst.version,
        timepoint=timepoint, opens_at=opens, closes_at=opens + dt.timedelta(days=7), status=status,
        submitted_at=opens + dt.timedelta(days=1) if submitted else None,
        scores=score_answers(inst, answers).as_json() if submitted else None, draft={},
        revision=revision, supersedes_id=supersedes.id if supersedes else None, correction_reason=reason,
    )
    if submitted:
        adm.answers = [AdministrationAnswer(item_number=n, value=v, scale_min=inst.item(n).minimum,
                                            scale_max=inst.item(n).maximum) for n, v in sorted(answers.items())]
    db.session.add(adm)
    db.session.flush()
    return adm


@dataclass
class BuiltTrial:
    trial: Trial
    participants: list[Participant] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def _participant(factory: Any, trial: Trial, **fields: Any) -> Participant:
    """Like factory.participant, without a commit per row (one commit for the whole trial)."""
    n = factory._next()
    user = create_user(db.session, email=f"patient{n}@example.org", password=PASSWORD, role=Role.PATIENT,
                       display_name=f"Pat Ient{n}")
    participant = enrol(db.session, trial, user)
    for key, value in fields.items():
        setattr(participant, key, value)
    db.session.flush()
    return participant


def build_trial(factory: Any, *, n_treatment: int = 12, n_waitlist: int = 10, seed: int = 1,
                trial: Trial | None = None) -> BuiltTrial:
    """A trial with screening, pre, week-3 and post measures, a few gaps, one late answer and one
    staff correction; plus one applicant and one excluded person for the flow counts."""
    rng = random.Random(seed)
    trial = trial or factory.trial(timezone="Europe/Stockholm")
    built = BuiltTrial(trial)
    start = dt.date(2026, 1, 5)
    for i in range(n_treatment + n_waitlist):
        arm = "treatment" if i < n_treatment else "waitlist"
        p = _participant(factory, trial, arm=arm, status="completed", start_date=start,
                         randomised_at=T0 - dt.timedelta(days=7))
        built.participants.append(p)
        severity = rng.uniform(1.2, 2.8)  # CORE-OM item level before treatment
        administer(p, "gad-7", "screening", answers_at("gad-7", severity * 0.7, rng))
        administer(p, "phq-9", "screening", answers_at("phq-9", severity * 0.6, rng))
        administer(p, "core-om", "pre", answers_at("core-om", severity, rng, missing=1 if i % 5 == 0 else 0))
        if arm == "treatment":
            alliance = rng.uniform(3.5, 6.5)
            administer(p, "expected-alliance", "pre", answers_at("expected-alliance", rng.uniform(3.5, 6.5), rng))
            if i % 6 != 5:  # a few never answered week 3
                administer(p, "wai-s", "week3", answers_at("wai-s", alliance, rng))
            else:
                administer(p, "wai-s", "week3", None, status="missed")
            improvement = 0.25 * (alliance - 3.5) + rng.uniform(0.0, 0.6)
        else:
            improvement = rng.uniform(-0.2, 0.3)
        post_level = max(0.1, severity - improvement)
        if i == n_treatment + n_waitlist - 1:
            administer(p, "core-om", "post", None, status="missed")  # lost to follow-up
        else:
            administer(p, "core-om", "post", answers_at("core-om", post_level, rng),
                       status="late" if i == 2 else "submitted")
    # A staff correction of the first participant's post CORE-OM (it must win over the original).
    first = built.participants[0]
    original = db.session.query(Administration).filter_by(participant_id=first.id, instrument_id="core-om",
                                                          timepoint="post").one()
    corrected = administer(first, "core-om", "post", answers_at("core-om", 0.5, rng), revision=1,
                           supersedes=original, reason="=Typed in by Anna Svensson from the paper form")
    built.notes["corrected_post"] = corrected.scores["scores"]["total_clinical"]
    built.notes["original_post"] = original.scores["scores"]["total_clinical"]
    _participant(factory, trial, status="applicant")
    _participant(factory, trial, status="excluded")
    db.session.commit()
    return built
