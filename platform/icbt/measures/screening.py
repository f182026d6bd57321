"""The screening questionnaires (GAD-7 and PHQ-9 by default) as part of the intake.

The intake (``icbt.intake.services``) is complete, and the participant "screened", when the
problem ratings AND every screening questionnaire of the trial's schedule are answered:
``register()`` adds that second part to ``SCREENING_PARTS`` and moves the participant on
when the last one is sent. The administrations are created when the patient starts the
intake (``start``: the ratings are sent), and by the periodic task; they are answered from
the intake page (not announced by message or e-mail, see ``services.UNANNOUNCED_TIMEPOINTS``).
A PHQ-9 item 9 answer above 0 raises a risk alert like any risk item (the instrument's data).

The scores feed the therapist's assessment page and the tailoring reasons
(``scores_for_tailoring``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from icbt.measures import services
from icbt.measures.instruments import get_instrument
from icbt.measures.models import Administration
from icbt.measures.schedule import schedule_from_settings
from icbt.trials.models import Participant, Trial

SCREENING = "screening"


@dataclass(frozen=True)
class ScreeningScore:
    instrument_id: str
    name: str  # the short name staff know, e.g. "GAD-7"
    score: float | None  # the instrument's primary score (None: over its missing-item limit)
    band: str | None  # e.g. "Moderate"
    submitted_at: dt.datetime
    administration_id: int


def screening_instruments(trial: Trial) -> list[str]:
    """The instruments the trial's schedule asks at screening, in schedule order."""
    ids: list[str] = []
    for entry in schedule_from_settings(trial.settings):
        if entry["timepoint"] == SCREENING:
            ids.extend(i for i in entry["instruments"] if i not in ids)
    return ids


def screening_administrations(session: Session, participant: Participant) -> list[Administration]:
    """The participant's screening questionnaires (latest revision of each), in schedule order."""
    order = {i: n for n, i in enumerate(screening_instruments(participant.trial))}
    found = [a for a in services.current_administrations(session, participant.id) if a.timepoint == SCREENING]
    return sorted(found, key=lambda a: (order.get(a.instrument_id, len(order)), a.instrument_id))


def start(session: Session, participant: Participant, *, now: dt.datetime | None = None) -> list[Administration]:
    """The patient starts the intake: their screening questionnaires are created (idempotent)."""
    services.materialise_schedule(session, participant, now=now, refresh=False)
    return screening_administrations(session, participant)


def intake_questionnaires(session: Session, participant: Participant,
                          now: dt.datetime) -> list[tuple[Administration, str]]:
    """The screening questionnaires as the intake page lists them, each with its state at
    ``now``: "sent", "open" (can be answered), "not_open" or "closed". Read only."""
    out = []
    for adm in screening_administrations(session, participant):
        if adm.is_submitted:
            state = "sent"
        elif services.can_answer(adm, participant.trial, now):
            state = "open"
        else:
            state = "not_open" if now < adm.opens_at else "closed"
        out.append((adm, state))
    return out


def questionnaires_answered(session: Session, participant: Participant) -> bool:
    """The intake part ``SCREENING_PARTS`` checks: every screening questionnaire is sent."""
    answered = {a.instrument_id for a in screening_administrations(session, participant) if a.is_submitted}
    return set(screening_instruments(participant.trial)) <= answered


def screening_scores(session: Session, participant: Participant) -> list[ScreeningScore]:
    """The scores of the sent screening questionnaires, for staff."""
    out = []
    for adm in screening_administrations(session, participant):
        if not adm.is_submitted or adm.submitted_at is None:
            continue
        instrument = get_instrument(adm.instrument_id)
        stored = adm.scores or {}
        score = (stored.get("scores") or {}).get(instrument.primary)
        out.append(ScreeningScore(adm.instrument_id, instrument.name, score, stored.get("band"), adm.submitted_at, adm.id))
    return out


def scores_for_tailoring(session: Session, participant: Participant) -> dict[str, float]:
    """{instrument id: primary score} of the sent screening questionnaires (the tailoring
    engine cites them in its reasons, e.g. "GAD-7 = 15")."""
    return {s.instrument_id: s.score for s in screening_scores(session, participant) if s.score is not None}


def _on_submitted(session: Session, adm: Administration) -> None:
    if adm.timepoint != SCREENING:
        return
    from icbt.intake.services import update_screening_status

    update_screening_status(session, adm.participant, actor=adm.participant.user)


def register() -> None:
    """Make the screening questionnaires part of the intake (once)."""
    from icbt.intake.services import SCREENING_PARTS

    if questionnaires_answered not in SCREENING_PARTS:
        SCREENING_PARTS.append(questionnaires_answered)
    if _on_submitted not in services.administration_submitted_listeners:
        services.administration_submitted_listeners.append(_on_submitted)
