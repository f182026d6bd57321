"""Measurement pages. Thin: load or 404, check role and ownership, call a service, render.

Patient:    /me/questionnaires/<id>            answer (GET form, POST save draft / send)
            /me/questionnaires/<id>/draft      autosave (POST, used by static/js/questionnaire.js)
            /me/questionnaires/<id>/sent       after sending (urgent-help text when a risk answer was given)
Staff:      /staff/participants/<pid>/measures administrations and scores of one participant
            /staff/administrations/<id>        one administration's answers
            /staff/administrations/<id>/correct  a correction (new record with a reason)
            /staff/alerts/<id>/acknowledge     acknowledge a risk alert with a note
Admin:      /admin/alerts                      unacknowledged risk alerts of every trial
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from icbt import clock
from icbt.access import deny, get_participant_or_404, role_required
from icbt.audit.services import allow_detail_keys, record
from icbt.extensions import db
from icbt.measures import services
from icbt.measures.forms import (
    AcknowledgeAlertForm,
    answers_from,
    correction_form,
    item_field_name,
    questionnaire_form,
)
from icbt.measures.instruments import get_instrument
from icbt.measures.models import Administration, RiskAlert
from icbt.measures.scoring import AnswerError
from icbt.measures.wording import item_texts
from icbt.trials.models import Participant
from icbt.trials.services import visible_participants

bp = Blueprint("measures", __name__)

TIMEPOINT_LABELS = {
    "screening": _l("Screening"),
    "pre": _l("Before treatment"),
    "week3": _l("Week 3"),
    "post": _l("After treatment"),
}
STATUS_LABELS = {
    "scheduled": _l("Not open yet"),
    "open": _l("Open"),
    "submitted": _l("Answered"),
    "late": _l("Answered late"),
    "missed": _l("Missed"),
}

allow_detail_keys("n")  # declared at the merge with security


@bp.record_once
def _join_the_intake(_state) -> None:  # type: ignore[no-untyped-def]
    from icbt.measures import screening

    screening.register()  # GAD-7 and PHQ-9 are part of the intake's screening


def _administration_or_404(administration_id: int) -> Administration:
    adm = db.session.get(Administration, administration_id)
    if adm is None:
        abort(404)
    get_participant_or_404(adm.participant_id)  # 403 + audit line unless the user may see it
    return adm


def _own_administration_or_404(administration_id: int) -> Administration:
    adm = _administration_or_404(administration_id)
    if adm.participant.user_id != current_user.id:  # belt and braces: patients only see their own
        deny("not own administration", administration_id=administration_id)
    if adm.revision != 0:
        abort(404)
    return adm


def _texts(adm: Administration) -> dict[str, Any]:
    instrument = get_instrument(adm.instrument_id)
    wording = None
    if adm.is_submitted and adm.wording_version:
        wording = services.wording_by_version(db.session, adm.participant.trial_id, adm.instrument_id, adm.wording_version)
    elif not adm.is_submitted:
        wording = services.current_wording(db.session, adm.participant.trial_id, adm.instrument_id)
    return item_texts(instrument, wording)


# ---------------------------------------------------------------- patient

@bp.route("/me/questionnaires/<int:administration_id>", methods=["GET", "POST"])
@role_required("patient")
def questionnaire(administration_id: int):  # type: ignore[no-untyped-def]
    adm = _own_administration_or_404(administration_id)
    if adm.is_submitted:
        flash(_("You have already sent this questionnaire. Thank you."), "info")
        return redirect(url_for("measures.sent", administration_id=adm.id))
    participant = adm.participant
    now = clock.now()
    if not services.can_answer(adm, participant.trial, now):
        flash(_("This questionnaire is not open for answers now."), "warning")
        return redirect(url_for("patient.dashboard"))
    instrument = get_instrument(adm.instrument_id)
    texts = _texts(adm)
    form = questionnaire_form(instrument, texts)
    unanswered: list[int] = []
    if request.method == "POST":
        if form.validate_on_submit():
            answers = answers_from(form, instrument)
            if form.save.data or not form.send.data:
                services.save_draft(db.session, adm, answers, now=now, actor=current_user)
                flash(_("Your answers are saved. You can come back and finish later."), "success")
                return redirect(url_for("measures.questionnaire", administration_id=adm.id))
            unanswered = [n for n, v in answers.items() if v is None]
            if unanswered and not form.confirm_incomplete.data:
                services.save_draft(db.session, adm, answers, now=now, actor=current_user)
            else:
                try:
                    outcome = services.submit(
                        db.session, adm, answers, idempotency_key=form.idempotency_key.data or "",
                        actor=current_user, now=now, wording_version=form.wording_version.data or None,
                    )
                except (services.SubmissionError, AnswerError) as error:
                    flash(str(error), "error")
                    return redirect(url_for("patient.dashboard"))
                return redirect(url_for("measures.sent", administration_id=outcome.administration.id))
    else:
        record(db.session, "administration.view", target=adm)
        for number, value in (adm.draft or {}).items():
            field = getattr(form, item_field_name(int(number)), None)
            if field is not None:
                field.data = value
    form.idempotency_key.data = services.new_idempotency_key()
    form.wording_version.data = texts["wording_version"]
    return render_template(
        "measures/questionnaire.html", adm=adm, instrument=instrument, texts=texts, form=form,
        unanswered=unanswered, item_field_name=item_field_name,
    )


@bp.route("/me/questionnaires/<int:administration_id>/draft", methods=["POST"])
@role_required("patient")
def autosave(administration_id: int):  # type: ignore[no-untyped-def]
    adm = _own_administration_or_404(administration_id)
    if adm.is_submitted or not services.can_answer(adm, adm.participant.trial, clock.now()):
        return jsonify(error=_("This questionnaire is closed.")), 409
    instrument = get_instrument(adm.instrument_id)
    prefix = "item_"
    answers = {
        key[len(prefix):]: value for key, value in request.form.items()
        if key.startswith(prefix) and key[len(prefix):].isdigit() and int(key[len(prefix):]) in instrument.item_numbers
    }
    draft = services.save_draft(db.session, adm, answers, now=clock.now(), actor=current_user)
    return jsonify(saved=len(draft), saved_at=adm.draft_saved_at.isoformat() if adm.draft_saved_at else None)


@bp.route("/me/questionnaires/<int:administration_id>/sent")
@role_required("patient")
def sent(administration_id: int):  # type: ignore[no-untyped-def]
    adm = _own_administration_or_404(administration_id)
    if not adm.is_submitted:
        return redirect(url_for("measures.questionnaire", administration_id=adm.id))
    has_alert = db.session.scalar(select(RiskAlert.id).where(RiskAlert.administration_id == adm.id).limit(1)) is not None
    record(db.session, "administration.view", target=adm)
    trial = adm.participant.trial
    return render_template(
        "measures/sent.html", adm=adm, instrument=get_instrument(adm.instrument_id),
        has_alert=has_alert, urgent_help=services.urgent_help_text(trial),
    )


# ---------------------------------------------------------------- staff

@bp.route("/staff/participants/<int:participant_id>/measures")
@role_required("therapist", "admin")
def participant_measures(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    record(db.session, "measures.view", target=participant)
    administrations = db.session.scalars(
        select(Administration).where(Administration.participant_id == participant.id)
        .order_by(Administration.opens_at, Administration.instrument_id, Administration.revision)
    ).all()
    official = {
        a.instrument_id: services.current_wording(db.session, participant.trial_id, a.instrument_id) is not None
        for a in administrations
    }
    return render_template(
        "measures/participant.html", participant=participant, administrations=administrations,
        official=official, alerts=services.alerts_for_participant(db.session, participant.id),
        get_instrument=get_instrument,
    )


@bp.route("/staff/administrations/<int:administration_id>")
@role_required("therapist", "admin")
def administration(administration_id: int):  # type: ignore[no-untyped-def]
    adm = _administration_or_404(administration_id)
    record(db.session, "administration.view", target=adm)
    instrument = get_instrument(adm.instrument_id)
    return render_template(
        "measures/administration.html", adm=adm, instrument=instrument, texts=_texts(adm),
        answers=adm.answer_map(), participant=adm.participant,
    )


@bp.route("/staff/administrations/<int:administration_id>/correct", methods=["GET", "POST"])
@role_required("therapist", "admin")
def correct(administration_id: int):  # type: ignore[no-untyped-def]
    adm = _administration_or_404(administration_id)
    if not adm.is_submitted:
        abort(409)
    instrument = get_instrument(adm.instrument_id)
    texts = _texts(adm)
    form = correction_form(instrument, texts)
    if request.method == "GET":
        record(db.session, "administration.view", target=adm)
        for number, value in adm.answer_map().items():
            getattr(form, item_field_name(number)).data = value
    elif form.validate_on_submit():
        try:
            correction = services.correct_administration(
                db.session, adm, answers_from(form, instrument), reason=form.reason.data or "", actor=current_user,
            )
        except (services.SubmissionError, AnswerError) as error:
            form.reason.errors = [*form.reason.errors, str(error)]
        else:
            flash(_("The correction is saved as a new record; the original is kept."), "success")
            return redirect(url_for("measures.administration", administration_id=correction.id))
    return render_template("measures/correct.html", adm=adm, instrument=instrument, texts=texts, form=form,
                           item_field_name=item_field_name, participant=adm.participant)


@bp.route("/staff/alerts/<int:alert_id>/acknowledge", methods=["GET", "POST"])
@role_required("therapist", "admin")
def acknowledge(alert_id: int):  # type: ignore[no-untyped-def]
    alert = db.session.get(RiskAlert, alert_id)
    if alert is None:
        abort(404)
    participant = get_participant_or_404(alert.participant_id)
    form = AcknowledgeAlertForm()
    if alert.acknowledged_at is None and form.validate_on_submit():
        try:
            services.acknowledge_alert(db.session, alert, user=current_user, note=form.note.data or "")
        except services.SubmissionError as error:
            form.note.errors = [*form.note.errors, str(error)]
        else:
            flash(_("The alert is acknowledged."), "success")
            return redirect(url_for("therapist.patient", participant_id=participant.id)
                            if current_user.role == "therapist" else url_for("measures.admin_alerts"))
    if request.method == "GET":
        record(db.session, "risk_alert.view", target=alert, participant_id=alert.participant_id)
    instrument = get_instrument(alert.instrument_id)
    return render_template("measures/acknowledge.html", alert=alert, participant=participant, form=form,
                           item=instrument.item(alert.item_number), instrument=instrument)


@bp.route("/admin/alerts")
@role_required("admin")
def admin_alerts():  # type: ignore[no-untyped-def]
    alerts = db.session.scalars(
        select(RiskAlert).where(RiskAlert.acknowledged_at.is_(None))
        .options(joinedload(RiskAlert.participant).joinedload(Participant.therapist))
        .order_by(RiskAlert.created_at)
    ).all()
    record(db.session, "risk_alert.list", detail={"n": len(alerts)})
    return render_template("measures/admin_alerts.html", alerts=alerts, get_instrument=get_instrument)


# ---------------------------------------------------------------- for the shared pages' includes

@bp.app_template_global()
def measures_due(participant: Participant) -> list[Administration]:
    """The patient's questionnaires that can be answered now. Read only: the schedule is
    materialised by the services that change a participant's state and by the periodic
    task; what is due is computed from the windows and the clock."""
    if participant is None or participant.user_id != current_user.id:
        return []
    # The screening questionnaires are answered through the intake page (the dashboard's
    # "First step" card leads there), not listed twice.
    return [a for a in services.due_for_participant(db.session, participant, now=clock.now())
            if a.timepoint not in services.UNANNOUNCED_TIMEPOINTS]


@bp.app_template_global()
def measures_for_staff(participant: Participant) -> dict[str, Any]:
    """Alerts and latest scores for the therapist's patient page."""
    if participant is None or not current_user.is_authenticated or current_user.role == "patient":
        return {"alerts": [], "administrations": []}
    record(db.session, "measures.view", target=participant)
    return {
        "alerts": services.alerts_for_participant(db.session, participant.id, open_only=True),
        "administrations": services.current_administrations(db.session, participant.id),
    }


@bp.app_template_global()
def measures_caseload_alerts() -> list[tuple[Participant, int]]:
    """(participant, unacknowledged alerts) for the current therapist's caseload, worst first."""
    if not current_user.is_authenticated or current_user.role == "patient":
        return []
    participants = db.session.scalars(visible_participants(current_user)).all()
    counts = services.unacknowledged_alert_counts(db.session, [p.id for p in participants])
    flagged = [(p, counts[p.id]) for p in participants if counts.get(p.id)]
    return sorted(flagged, key=lambda pair: (-pair[1], pair[0].code))


@bp.app_template_global()
def measures_alert_total() -> int:
    if not current_user.is_authenticated or current_user.role != "admin":
        return 0
    return services.unacknowledged_alert_total(db.session)


@bp.app_template_filter()
def timepoint_label(value: str) -> str:
    return str(TIMEPOINT_LABELS.get(value, value))


@bp.app_template_filter()
def administration_status_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


@bp.app_template_filter()
def status_now(adm: Administration) -> str:
    """The administration's status at this moment (computed from its window, never written)."""
    return adm.status_at(clock.now())


@bp.app_template_filter()
def local_datetime(value: Any, trial: Any = None) -> str:
    """A UTC moment shown in the trial's time zone, e.g. "2026-03-01 00:00 (Europe/Stockholm)"."""
    if value is None:
        return "–"
    from zoneinfo import ZoneInfo

    zone = getattr(trial, "timezone", None) or "UTC"
    return f"{value.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


@bp.app_template_filter()
def instrument_title(instrument_id: str) -> str:
    try:
        return get_instrument(instrument_id).title
    except LookupError:
        return instrument_id


@bp.app_template_filter()
def instrument_name(instrument_id: str) -> str:
    """The short name staff know (CORE-OM, WAI-S...)."""
    try:
        return get_instrument(instrument_id).name
    except LookupError:
        return instrument_id


@bp.app_template_filter()
def alert_item_label(alert: RiskAlert) -> str:
    """Our own short label of the alert's item (never the licensed wording)."""
    try:
        return get_instrument(alert.instrument_id).item(alert.item_number).label
    except (LookupError, KeyError):
        return ""


@bp.app_template_filter()
def score_format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
