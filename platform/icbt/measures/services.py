"""Measurement services: schedule materialisation, drafts, submission, corrections, risk
alerts, and the queries other parts build on. Services take the session, flush (never
commit) and write audit lines; the request (or the task) commits.

Hooks for other parts (messaging subscribes without this module importing it): each list
holds callables ``fn(session, administration)`` (``fn(session, alerts)`` for risk alerts),
called inside the same transaction; a failing listener is logged and its own writes are
rolled back (savepoint) without undoing the measurement.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from icbt.audit.services import allow_detail_keys, record
from icbt.db import utcnow
from icbt.measures.instruments import Instrument, get_instrument
from icbt.measures.models import Administration, AdministrationAnswer, InstalledWording, RiskAlert
from icbt.measures.schedule import (
    accepts_answers,
    plan_administrations,
    window_status,
    windows_from_settings,
)
from icbt.measures.scoring import AnswerError, clean_answers, score_answers
from icbt.trials.models import Participant, Trial
from icbt.users.models import Role, User

log = logging.getLogger(__name__)

AdministrationListener = Callable[[Session, Administration], None]
AlertListener = Callable[[Session, Sequence[RiskAlert]], None]

administration_opened_listeners: list[AdministrationListener] = []
administration_reminder_listeners: list[AdministrationListener] = []
administration_submitted_listeners: list[AdministrationListener] = []
risk_alert_listeners: list[AlertListener] = []

INACTIVE_STATUSES = ("withdrawn",)
# Reached through the intake page, not invited by message and e-mail (DESIGN.md: the
# messages invite to pre, week-3 and post questionnaires).
UNANNOUNCED_TIMEPOINTS = ("screening",)
OUTCOME_INSTRUMENT = "core-om"

DEFAULT_URGENT_HELP = _l(
    "If you are thinking about harming yourself or feel you cannot keep yourself safe, "
    "call your local emergency number now or go to the nearest emergency department. "
    "You can also contact your GP or a psychiatric emergency service. Your therapist has "
    "been told about your answers and will contact you, but this platform is not watched "
    "around the clock."
)

allow_detail_keys("administration", "answered", "created", "revision", "start_date", "supersedes")  # declared at the merge with security


class SubmissionError(ValueError):
    """A submission that cannot be accepted; the message is for the person submitting."""


@dataclass
class SubmitOutcome:
    administration: Administration
    created: bool  # False: this was a repeat (double click, second tab, replay)
    alerts: list[RiskAlert] = field(default_factory=list)


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware 'now'")
    return now


def _call(listeners: Iterable[Callable[..., None]], session: Session, payload: Any) -> None:
    for listener in list(listeners):
        try:
            with session.begin_nested():
                listener(session, payload)
        except Exception:  # noqa: BLE001 - a subscriber must not undo a measurement
            log.exception("measurement listener %r failed", listener)


def urgent_help_text(trial: Trial) -> str:
    """The trial's text about where to get urgent help (``trial.settings["urgent_help_text"]``)."""
    text = trial.setting("urgent_help_text")
    return str(text) if text else str(DEFAULT_URGENT_HELP)


# ---------------------------------------------------------------- schedule

def _intake_at(participant: Participant) -> dt.datetime:
    return participant.created_at or utcnow()


def materialise_schedule(session: Session, participant: Participant, *, now: dt.datetime | None = None,
                         notify: bool = True, refresh: bool = True) -> list[Administration]:
    """Create the participant's missing administrations from the trial's schedule and bring
    unsubmitted windows up to date (e.g. a moved start date). Idempotent: call it at intake,
    randomisation and start, and as often as you like after. Never deletes anything.

    A new administration starts with the status its window has at ``now``. With ``refresh``
    (the periodic task) the statuses are then moved and openings announced
    (``refresh_statuses``); the services that change a participant's state pass
    ``refresh=False``: window transitions and reminders are the periodic task's work."""
    now = _now(now)
    trial = participant.trial
    planned = plan_administrations(
        arm=participant.arm,
        intake_at=_intake_at(participant),
        start_date=participant.start_date,
        weeks=trial.weeks,
        timezone=trial.timezone,
        settings=trial.settings,
    )
    existing = {
        (a.instrument_id, a.timepoint): a
        for a in session.scalars(
            select(Administration).where(
                Administration.participant_id == participant.id, Administration.revision == 0
            )
        )
    }
    created = 0
    for plan in planned:
        adm = existing.get((plan.instrument_id, plan.timepoint))
        if adm is None:
            if participant.status in INACTIVE_STATUSES:
                continue
            instrument = get_instrument(plan.instrument_id)
            adm = Administration(
                participant_id=participant.id,
                instrument_id=plan.instrument_id,
                instrument_version=instrument.version,
                timepoint=plan.timepoint,
                opens_at=plan.opens_at,
                closes_at=plan.closes_at,
                status=window_status(plan.opens_at, plan.closes_at, now),
                draft={},
            )
            session.add(adm)
            existing[(plan.instrument_id, plan.timepoint)] = adm
            created += 1
        elif not adm.is_submitted and (adm.opens_at, adm.closes_at) != (plan.opens_at, plan.closes_at):
            adm.opens_at, adm.closes_at = plan.opens_at, plan.closes_at
    session.flush()
    if created:
        record(session, "measures.schedule", target=participant, detail={"created": created})
    if refresh:
        refresh_statuses(session, list(existing.values()), now=now, notify=notify)
    return sorted(existing.values(), key=lambda a: (a.opens_at, a.instrument_id))


def refresh_statuses(session: Session, administrations: Iterable[Administration], *, now: dt.datetime | None = None,
                     notify: bool = True) -> dict[str, int]:
    """Set each unsubmitted administration's status for ``now``; an administration that opens
    calls the opened listeners once (``notify=False``: marked as announced, nobody told; the
    demo uses it). Missed windows are recorded as ``missed``. Screening questionnaires are
    not announced: the patient answers them in the intake (``icbt.measures.screening``)."""
    now = _now(now)
    counts: dict[str, int] = {}
    for adm in administrations:
        if adm.is_submitted:
            continue
        status = window_status(adm.opens_at, adm.closes_at, now)
        if status != adm.status:
            adm.status = status
            counts[status] = counts.get(status, 0) + 1
        if status == "open" and adm.opened_notified_at is None:
            adm.opened_notified_at = now
            session.flush()
            if notify and adm.timepoint not in UNANNOUNCED_TIMEPOINTS and adm.participant.status not in INACTIVE_STATUSES:
                _notify_patient(session, adm, reminder=False)
                _call(administration_opened_listeners, session, adm)
        if status == "missed" and adm.opened_notified_at is None:
            adm.opened_notified_at = now  # never announce a window that has already closed
    session.flush()
    return counts


def refresh_all(session: Session, *, now: dt.datetime | None = None, trial_id: int | None = None) -> dict[str, int]:
    """What the periodic task does: materialise every participant's schedule, update
    statuses, send the reminders that are due."""
    now = _now(now)
    stmt = select(Participant).where(Participant.status.not_in(INACTIVE_STATUSES))
    if trial_id is not None:
        stmt = stmt.where(Participant.trial_id == trial_id)
    totals: dict[str, int] = {"participants": 0}
    for participant in session.scalars(stmt.options(selectinload(Participant.trial))).all():
        materialise_schedule(session, participant, now=now)
        totals["participants"] += 1
    # Administrations of inactive participants still move to missed (recorded, not dropped).
    leftovers = session.scalars(
        select(Administration).where(
            Administration.submitted_at.is_(None), Administration.status.in_(("scheduled", "open"))
        )
    ).all()
    for key, n in refresh_statuses(session, leftovers, now=now).items():
        totals[key] = totals.get(key, 0) + n
    totals["reminded"] = send_reminders(session, now=now)
    return totals


def send_reminders(session: Session, *, now: dt.datetime | None = None) -> int:
    now = _now(now)
    open_ones = session.scalars(
        select(Administration)
        .where(Administration.status == "open", Administration.reminded_at.is_(None),
               Administration.timepoint.not_in(UNANNOUNCED_TIMEPOINTS))
        .options(selectinload(Administration.participant).selectinload(Participant.trial))
    ).all()
    sent = 0
    for adm in open_ones:
        participant = adm.participant
        if participant.status in INACTIVE_STATUSES:
            continue
        after = windows_from_settings(participant.trial.settings)["reminder_after_days"]
        if now < adm.opens_at + dt.timedelta(days=after) or now >= adm.closes_at:
            continue
        adm.reminded_at = now
        _notify_patient(session, adm, reminder=True)
        _call(administration_reminder_listeners, session, adm)
        sent += 1
    session.flush()
    return sent


def _base_url() -> str:
    return (current_app.config.get("BASE_URL") or "").rstrip("/") if has_app_context() else ""


def _notify_patient(session: Session, adm: Administration, *, reminder: bool) -> None:
    """An e-mail without health content: a questionnaire is waiting, with a link."""
    from icbt.notifications import EmailError, send_email

    user = adm.participant.user
    if user is None or not user.active:
        return
    subject = gettext("Reminder: a questionnaire is waiting for you") if reminder else gettext("A questionnaire is waiting for you")
    body = gettext(
        "Hello,\n\nThere is a questionnaire for you on the ICBT platform. Please log in to answer it:\n%(url)s\n\n"
        "This message was sent automatically; please do not reply to it.",
        url=f"{_base_url()}/me/questionnaires/{adm.id}",
    )
    try:
        send_email(user.email, subject, body, session=session)
    except EmailError:
        log.warning("no e-mail sent for administration %s: bad address", adm.id)


# ---------------------------------------------------------------- reading

def current_administrations(session: Session, participant_id: int) -> list[Administration]:
    """The participant's administrations, the latest revision of each (corrections win)."""
    rows = session.scalars(
        select(Administration)
        .where(Administration.participant_id == participant_id)
        .order_by(Administration.opens_at, Administration.instrument_id, Administration.revision)
    ).all()
    latest: dict[tuple[str, str], Administration] = {}
    for adm in rows:
        latest[(adm.instrument_id, adm.timepoint)] = adm
    return sorted(latest.values(), key=lambda a: (a.opens_at, a.instrument_id))


def can_answer(adm: Administration, trial: Trial, now: dt.datetime | None = None) -> bool:
    now = _now(now)
    if adm.is_submitted or adm.revision > 0:
        return False
    grace = windows_from_settings(trial.settings)["late_grace_days"]
    return accepts_answers(adm.opens_at, adm.closes_at, now, grace)


def due_for_participant(session: Session, participant: Participant, *, now: dt.datetime | None = None) -> list[Administration]:
    """What the patient should answer now: open windows, and missed ones still in their grace
    period (shown as late), soonest deadline first."""
    now = _now(now)
    due = [
        a for a in current_administrations(session, participant.id)
        if can_answer(a, participant.trial, now)
    ]
    return sorted(due, key=lambda a: a.closes_at)


def latest_core_om_clinical(session: Session, participant_ids: Sequence[int]) -> dict[int, float | None]:
    """Latest submitted CORE-OM clinical score (0-40) per participant id, in one query.
    Participants without one map to None."""
    result: dict[int, float | None] = {pid: None for pid in participant_ids}
    if not participant_ids:
        return result
    rows = session.execute(
        select(Administration.participant_id, Administration.scores)
        .where(
            Administration.participant_id.in_(list(participant_ids)),
            Administration.instrument_id == OUTCOME_INSTRUMENT,
            Administration.submitted_at.is_not(None),
        )
        .order_by(Administration.participant_id, Administration.opens_at, Administration.revision)
    ).all()
    for pid, scores in rows:  # ordered: the last row per participant is the latest
        result[pid] = ((scores or {}).get("scores") or {}).get("total_clinical")
    return result


def unacknowledged_alert_counts(session: Session, participant_ids: Sequence[int]) -> dict[int, int]:
    """Unacknowledged risk alerts per participant id (0 when none), in one query."""
    counts = {pid: 0 for pid in participant_ids}
    if not participant_ids:
        return counts
    rows = session.execute(
        select(RiskAlert.participant_id, func.count())
        .where(RiskAlert.participant_id.in_(list(participant_ids)), RiskAlert.acknowledged_at.is_(None))
        .group_by(RiskAlert.participant_id)
    ).all()
    counts.update({pid: n for pid, n in rows})
    return counts


def unacknowledged_alert_total(session: Session, trial_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(RiskAlert).where(RiskAlert.acknowledged_at.is_(None))
    if trial_id is not None:
        stmt = stmt.join(Participant, Participant.id == RiskAlert.participant_id).where(Participant.trial_id == trial_id)
    return session.scalar(stmt) or 0


def alerts_for_participant(session: Session, participant_id: int, *, open_only: bool = False) -> list[RiskAlert]:
    stmt = select(RiskAlert).where(RiskAlert.participant_id == participant_id)
    if open_only:
        stmt = stmt.where(RiskAlert.acknowledged_at.is_(None))
    return list(session.scalars(stmt.order_by(RiskAlert.acknowledged_at.is_not(None), RiskAlert.created_at.desc())))


ANALYSIS_SLOTS = {
    ("core-om", "pre"): "core_om_pre",
    ("core-om", "post"): "core_om_post",
    ("wai-s", "week3"): "wai_week3",
    ("expected-alliance", "pre"): "expected_alliance",
    ("gad-7", "screening"): "gad7_screening",
    ("phq-9", "screening"): "phq9_screening",
}


def analysis_records(session: Session, trial_id: int, *, slots: Mapping[tuple[str, str], str] | None = None) -> list[dict[str, Any]]:
    """One dict per participant of the trial (two queries in all), for the analysis::

        {"participant_id": 7, "code": "P-7KQ2M9", "arm": "treatment" | "waitlist" | None,
         "status": "completed", "start_date": date | None, "randomised_at": datetime | None,
         "core_om_pre":       {"total": 1.85, "total_clinical": 18.5, "non_risk": ..., ...} | None,
         "core_om_post":      {...} | None,
         "wai_week3":         {"total": 62.0, "task": 21.0, "bond": 22.0, "goal": 19.0} | None,
         "expected_alliance": {"total": ..., "task": ..., "bond": ..., "goal": ...} | None,
         "gad7_screening": {...} | None, "phq9_screening": {...} | None,
         "administrations": {"core_om_pre": {"status": "submitted" | "late" | "missed" | "open" | "scheduled",
                                             "submitted_at": datetime | None, "missing_items": [...],
                                             "revision": 0, "administration_id": 12}, ...}}

    Scores are the stored ones (computed at submission by ``scoring.score_answers``); a score
    over its prorating limit is None. Corrections replace the original (latest revision).
    Late answers count (their status says so). Participants without an arm are included
    (for CONSORT flow counts). ``slots`` maps (instrument id, timepoint) to the key, so a trial
    that swaps an instrument (e.g. WAI-SR at week 3) can pass ``{("wai-sr", "week3"): "wai_week3", ...}``.
    """
    slots = dict(slots or ANALYSIS_SLOTS)
    participants = session.scalars(
        select(Participant).where(Participant.trial_id == trial_id).order_by(Participant.code)
    ).all()
    records: dict[int, dict[str, Any]] = {}
    for p in participants:
        entry: dict[str, Any] = {
            "participant_id": p.id, "code": p.code, "arm": p.arm, "status": p.status,
            "start_date": p.start_date, "randomised_at": p.randomised_at, "administrations": {},
        }
        entry.update({key: None for key in slots.values()})
        records[p.id] = entry
    if not records:
        return []
    rows = session.scalars(
        select(Administration)
        .join(Participant, Participant.id == Administration.participant_id)
        .where(Participant.trial_id == trial_id)
        .order_by(Administration.participant_id, Administration.revision)
    ).all()
    for adm in rows:
        key = slots.get((adm.instrument_id, adm.timepoint))
        if key is None:
            continue
        entry = records[adm.participant_id]
        entry["administrations"][key] = {
            "status": adm.status,
            "submitted_at": adm.submitted_at,
            "missing_items": list((adm.scores or {}).get("missing_items") or []),
            "revision": adm.revision,
            "administration_id": adm.id,
        }
        entry[key] = dict((adm.scores or {}).get("scores") or {}) if adm.is_submitted else None
    return list(records.values())


# ---------------------------------------------------------------- wording

def current_wording(session: Session, trial_id: int, instrument_id: str, language: str = "en") -> InstalledWording | None:
    return session.scalar(
        select(InstalledWording)
        .where(
            InstalledWording.trial_id == trial_id,
            InstalledWording.instrument_id == instrument_id,
            InstalledWording.language == language,
        )
        .order_by(InstalledWording.installed_at.desc(), InstalledWording.id.desc())
        .limit(1)
    )


def wording_by_version(session: Session, trial_id: int, instrument_id: str, version: str) -> InstalledWording | None:
    return session.scalar(
        select(InstalledWording).where(
            InstalledWording.trial_id == trial_id,
            InstalledWording.instrument_id == instrument_id,
            InstalledWording.wording_version == version,
        ).limit(1)
    )


# ---------------------------------------------------------------- answering

def _clean_draft(instrument: Instrument, answers: Mapping[Any, Any]) -> dict[str, int]:
    """Keep the valid answers of a draft; a draft never fails for a half-typed value."""
    kept: dict[str, int] = {}
    for key, value in answers.items():
        try:
            cleaned = clean_answers(instrument, {key: value})
        except AnswerError:
            continue
        kept.update({str(n): v for n, v in cleaned.items()})
    return kept


def save_draft(session: Session, adm: Administration, answers: Mapping[Any, Any], *, now: dt.datetime | None = None,
               actor: User | None = None) -> dict[str, int]:
    """Keep partial answers server-side (merged into the existing draft)."""
    if adm.is_submitted:
        raise SubmissionError(gettext("This questionnaire has already been sent."))
    instrument = get_instrument(adm.instrument_id)
    draft = dict(adm.draft or {})
    draft.update(_clean_draft(instrument, answers))
    adm.draft = draft
    adm.draft_saved_at = _now(now)
    session.flush()
    record(session, "administration.draft", actor=actor, target=adm, detail={"answered": len(draft)})
    return draft


def new_idempotency_key() -> str:
    return secrets.token_hex(16)


def submit(
    session: Session,
    adm: Administration,
    answers: Mapping[Any, Any],
    *,
    idempotency_key: str,
    actor: User | None = None,
    now: dt.datetime | None = None,
    wording_version: str | None = None,
    notify: bool = True,
) -> SubmitOutcome:
    """Store the answers and scores of ``adm`` once. A repeat (same key, or the
    administration already submitted by a concurrent request) returns the stored record
    with ``created=False``; nothing is written twice. Raises SubmissionError / AnswerError."""
    now = _now(now)
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64 or not key.isascii() or not key.isprintable():
        raise SubmissionError(gettext("The form is missing its submission key. Reload the page and send it again."))
    replay = session.scalar(select(Administration).where(Administration.idempotency_key == key))
    if replay is not None:
        if replay.id != adm.id:
            raise SubmissionError(gettext("This form was already used for another questionnaire. Reload the page."))
        return SubmitOutcome(replay, created=False)
    if adm.is_submitted:
        return SubmitOutcome(adm, created=False)
    participant = adm.participant
    if not can_answer(adm, participant.trial, now):
        raise SubmissionError(gettext("This questionnaire is not open for answers."))
    instrument = get_instrument(adm.instrument_id)
    raw = clean_answers(instrument, answers)
    result = score_answers(instrument, raw)
    if wording_version and wording_by_version(session, participant.trial_id, adm.instrument_id, wording_version) is None:
        wording_version = None
    status = window_status(adm.opens_at, adm.closes_at, now, submitted_at=now)
    values = dict(
        status=status, submitted_at=now, submitted_by_id=getattr(actor, "id", None),
        idempotency_key=key, scores=result.as_json(), wording_version=wording_version or None,
        instrument_version=instrument.version, draft={},
    )
    try:
        with session.begin_nested():
            # Compare-and-set: only the first of two racing requests changes the row; the
            # other waits for it (row lock / SQLite write lock) and then matches nothing.
            changed = session.execute(
                update(Administration)
                .where(Administration.id == adm.id, Administration.submitted_at.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed == 1 and raw:
                session.execute(insert(AdministrationAnswer), [
                    {"administration_id": adm.id, "item_number": n, "value": v,
                     "scale_min": instrument.item(n).minimum, "scale_max": instrument.item(n).maximum}
                    for n, v in sorted(raw.items())
                ])
    except IntegrityError:
        # The same key raced in on another administration: the other one won.
        session.refresh(adm)
        raise SubmissionError(gettext("This form was already used. Reload the page.")) from None
    session.refresh(adm)
    if changed != 1:
        return SubmitOutcome(adm, created=False)
    alerts = _raise_risk_alerts(session, adm, result.risk_items, notify=notify)
    record(session, "administration.submit", actor=actor, target=adm,
           detail={"instrument": adm.instrument_id, "timepoint": adm.timepoint, "status": status,
                   "answered": len(raw)})
    _call(administration_submitted_listeners, session, adm)
    return SubmitOutcome(adm, created=True, alerts=alerts)


def correct_administration(
    session: Session,
    original: Administration,
    answers: Mapping[Any, Any],
    *,
    reason: str,
    actor: User,
    now: dt.datetime | None = None,
    notify: bool = True,
) -> Administration:
    """A staff correction: a NEW administration (revision + 1) that supersedes the latest
    one, with the reason. The original stays as it was."""
    now = _now(now)
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise SubmissionError(gettext("Give the reason for the correction (at least 5 characters)."))
    if not actor.has_role(Role.THERAPIST, Role.ADMIN):
        raise SubmissionError(gettext("Only staff can correct a questionnaire."))
    latest = session.scalar(
        select(Administration)
        .where(Administration.participant_id == original.participant_id,
               Administration.instrument_id == original.instrument_id,
               Administration.timepoint == original.timepoint)
        .order_by(Administration.revision.desc()).limit(1)
    )
    assert latest is not None
    if not latest.is_submitted:
        raise SubmissionError(gettext("Only a submitted questionnaire can be corrected."))
    instrument = get_instrument(original.instrument_id)
    raw = clean_answers(instrument, answers)
    result = score_answers(instrument, raw)
    correction = Administration(
        participant_id=latest.participant_id, instrument_id=latest.instrument_id,
        instrument_version=instrument.version, wording_version=latest.wording_version,
        timepoint=latest.timepoint, opens_at=latest.opens_at, closes_at=latest.closes_at,
        status=latest.status, submitted_at=latest.submitted_at, submitted_by_id=actor.id,
        scores=result.as_json(), draft={}, revision=latest.revision + 1, supersedes_id=latest.id,
        correction_reason=reason[:2000], idempotency_key=None,
        opened_notified_at=latest.opened_notified_at,
    )
    correction.answers = [
        AdministrationAnswer(item_number=n, value=v, scale_min=instrument.item(n).minimum,
                             scale_max=instrument.item(n).maximum)
        for n, v in sorted(raw.items())
    ]
    session.add(correction)
    session.flush()
    # A risk answer already alerted on in this chain does not alert twice.
    alerted = set(session.scalars(
        select(RiskAlert.item_number).join(Administration, Administration.id == RiskAlert.administration_id)
        .where(Administration.participant_id == latest.participant_id,
               Administration.instrument_id == latest.instrument_id,
               Administration.timepoint == latest.timepoint)
    ))
    _raise_risk_alerts(session, correction, tuple(h for h in result.risk_items if h[0] not in alerted), notify=notify)
    record(session, "administration.correct", actor=actor, target=correction,
           detail={"supersedes": latest.id, "revision": correction.revision})
    return correction


# ---------------------------------------------------------------- risk

def _raise_risk_alerts(session: Session, adm: Administration, hits: Sequence[tuple[int, int]], *, notify: bool) -> list[RiskAlert]:
    if not hits:
        return []
    alerts = [
        RiskAlert(participant_id=adm.participant_id, administration_id=adm.id, instrument_id=adm.instrument_id,
                  item_number=item, answer=answer)
        for item, answer in hits
    ]
    session.add_all(alerts)
    session.flush()
    for alert in alerts:
        record(session, "risk_alert.create", target=alert, participant_id=adm.participant_id,
               detail={"administration": adm.id})
    if notify:
        _notify_staff_of_alert(session, adm.participant)
    _call(risk_alert_listeners, session, alerts)
    return alerts


def _notify_staff_of_alert(session: Session, participant: Participant) -> None:
    """E-mail the therapist (or, without one, the trial's admins): no health content."""
    from icbt.notifications import EmailError, send_email

    recipients: list[User] = []
    if participant.therapist is not None and participant.therapist.active:
        recipients = [participant.therapist]
    else:
        recipients = list(session.scalars(select(User).where(User.role == Role.ADMIN.value, User.active.is_(True))))
    subject = gettext("An alert needs your attention")
    body = gettext(
        "Hello,\n\nA new alert is waiting for you on the ICBT platform. Please log in and review it as soon as possible:\n%(url)s\n\n"
        "This message was sent automatically; please do not reply to it.",
        url=f"{_base_url()}/therapist/patients/{participant.id}",
    )
    for user in recipients:
        try:
            send_email(user.email, subject, body, session=session)
        except EmailError:
            log.warning("no alert e-mail sent to user %s: bad address", user.id)


def acknowledge_alert(session: Session, alert: RiskAlert, *, user: User, note: str, now: dt.datetime | None = None) -> RiskAlert:
    note = (note or "").strip()
    if not note:
        raise SubmissionError(gettext("Write a short note on what you did."))
    if alert.acknowledged_at is not None:
        raise SubmissionError(gettext("This alert has already been acknowledged."))
    alert.acknowledged_at = _now(now)
    alert.acknowledged_by_id = user.id
    alert.note = note[:4000]
    session.flush()
    record(session, "risk_alert.acknowledge", actor=user, target=alert, participant_id=alert.participant_id)
    return alert
