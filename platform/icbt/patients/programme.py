"""The patient's programme: intake screening, the plan, module pages and worksheets.

Every route is for the patient role and works only on the logged-in patient's own
participant record: a plan item of someone else is "not found" (404), never shown.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from icbt import pagecache
from icbt.access import role_required
from icbt.audit.services import record
from icbt.content.library import Module, Worksheet
from icbt.content.services import module_of
from icbt.content.worksheets import draft_from_form, draft_from_stored, input_name, rows_to_show
from icbt.extensions import db
from icbt.intake.services import IntakeError, screening_complete, screening_of, submit_screening
from icbt.measures import screening
from icbt.patients.programme_forms import CsrfForm, ScreeningForm
from icbt import clock
from icbt.treatment.models import ModulePlan, PlanItem
from icbt.treatment.services import (
    HomeworkLocked, get_homework, hand_in, item_is_open, plan_for, plan_progress, record_page_read, save_draft,
)
from icbt.trials.models import Participant, ParticipantStatus
from icbt.trials.services import participant_of_user

bp = Blueprint("patient_programme", __name__, url_prefix="/me")


def _me() -> Participant:
    participant = participant_of_user(db.session, current_user)
    if participant is None:
        abort(404)
    return participant


def _today(participant: Participant):  # type: ignore[no-untyped-def]
    return clock.today(participant.trial.timezone)


# Built once; the module version comes with the item (every module page shows it).
_OWN_ITEM = (
    select(PlanItem, ModulePlan).join(ModulePlan, ModulePlan.id == PlanItem.plan_id)
    .where(PlanItem.id == bindparam("item_id"), ModulePlan.participant_id == bindparam("participant_id"))
    .options(joinedload(PlanItem.module_version))
)


def _own_item(participant: Participant, item_id: int) -> tuple[PlanItem, ModulePlan, Module]:
    """The plan item if it is in one of this patient's plans; otherwise 404."""
    row = db.session.execute(_OWN_ITEM, {"item_id": item_id, "participant_id": participant.id}).first()
    if row is None:
        abort(404)
    item, plan = row
    return item, plan, module_of(item.module_version)


def _open_or_redirect(participant: Participant, plan: ModulePlan, item: PlanItem) -> Any:
    if item_is_open(plan, item, _today(participant)):
        return None
    if plan.approved and plan.start_date:
        from icbt.treatment.schedule import unlock_date

        flash(_("This module opens on %(date)s.", date=unlock_date(plan.start_date, item.position).isoformat()), "info")
    else:
        flash(_("Your plan is not ready yet. Your therapist will let you know."), "info")
    return redirect(url_for(".plan"))


# ------------------------------------------------------------------ intake

@bp.route("/intake", methods=["GET", "POST"])
@role_required("patient")
def intake():  # type: ignore[no-untyped-def]
    """The screening: the problem ratings (this form), then the screening questionnaires
    (GAD-7, PHQ-9), created when the ratings are sent and answered from this page."""
    participant = _me()
    existing = screening_of(db.session, participant)
    questionnaires = screening.intake_questionnaires(db.session, participant, clock.now())
    if existing is not None:
        record(db.session, "intake.screening_view", target=existing, participant=participant)
        return render_template("patient/intake_done.html", participant=participant, screening=existing,
                               questionnaires=questionnaires,
                               complete=all(state == "sent" for _adm, state in questionnaires))
    form = ScreeningForm()
    if form.validate_on_submit():
        try:
            _screening, created = submit_screening(db.session, participant, ratings=form.ratings(),
                                                   free_text=form.free_text.data or "")
        except IntakeError:
            abort(400)
        screening.start(db.session, participant, now=clock.now())
        if created:
            flash(_("Thank you. Your answers were sent to the trial team."), "success")
        return redirect(url_for(".intake"))
    return render_template("patient/intake.html", participant=participant, form=form,
                           n_questionnaires=len(screening.screening_instruments(participant.trial)))


# ------------------------------------------------------------------ plan and pages

@bp.route("/plan")
@role_required("patient")
def plan():  # type: ignore[no-untyped-def]
    participant = _me()
    the_plan = plan_for(db.session, participant)
    if the_plan is None or not the_plan.approved:
        return render_template("patient/plan.html", participant=participant, progress=None)
    progress = plan_progress(db.session, the_plan, _today(participant))
    record(db.session, "plan.view", target=the_plan, participant=participant)
    return render_template("patient/plan.html", participant=participant, progress=progress)


@bp.route("/modules/<int:item_id>")
@role_required("patient")
def module(item_id: int):  # type: ignore[no-untyped-def]
    item, _plan, _module = _own_item(_me(), item_id)  # another patient's item: 404, not a redirect
    return redirect(url_for(".page", item_id=item.id, page=1))


@bp.route("/modules/<int:item_id>/pages/<int:page>")
@role_required("patient")
def page(item_id: int, page: int):  # type: ignore[no-untyped-def]
    participant = _me()
    item, the_plan, mod = _own_item(participant, item_id)
    closed = _open_or_redirect(participant, the_plan, item)
    if closed is not None:
        return closed
    if not 1 <= page <= len(mod.pages):
        abort(404)
    record_page_read(db.session, participant, item, page, at=clock.now())
    html = pagecache.page(db.session, [pagecache.participant_scope(participant.id)], lambda: (render_template(
        "patient/module_page.html", participant=participant, item=item, module=mod,
        page_number=page, page=mod.pages[page - 1]), {}))[0]
    record(db.session, "module.page_view", target=item, participant=participant)  # last: flushed with the commit
    return html


# ------------------------------------------------------------------ worksheets

def _worksheet_or_404(mod: Module, worksheet_id: str) -> Worksheet:
    worksheet = mod.worksheet(worksheet_id)
    if worksheet is None:
        abort(404)
    return worksheet


def _render_worksheet(participant: Participant, item: PlanItem, mod: Module, worksheet: Worksheet,
                      raw: dict, errors: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    homework = get_homework(db.session, item, worksheet.id)
    tz = participant.trial.timezone
    return render_template(
        "patient/worksheet.html", participant=participant, item=item, module=mod, worksheet=worksheet,
        homework=homework, raw=raw, errors=errors or {}, form=CsrfForm(), input_name=input_name,
        rows_to_show=rows_to_show, submission_key=secrets.token_hex(16),
        saved_at=_local_time(homework.updated_at, tz) if homework else None,
    ), status


def _local_time(value, tz: str) -> str:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


@bp.route("/modules/<int:item_id>/worksheets/<worksheet_id>", methods=["GET", "POST"])
@role_required("patient")
def worksheet(item_id: int, worksheet_id: str):  # type: ignore[no-untyped-def]
    participant = _me()
    item, the_plan, mod = _own_item(participant, item_id)
    closed = _open_or_redirect(participant, the_plan, item)
    if closed is not None:
        return closed
    sheet = _worksheet_or_404(mod, worksheet_id)
    if request.method == "GET":
        homework = get_homework(db.session, item, sheet.id)
        if homework is not None:
            record(db.session, "homework.view", target=homework, participant=participant)
        else:  # an empty worksheet still shows which module of their plan this is
            record(db.session, "worksheet.view", target=item, participant=participant)
        return _render_worksheet(participant, item, mod, sheet, draft_from_stored(sheet, homework.data if homework else None))
    raw = draft_from_form(sheet, request.form)
    at = clock.now()
    if request.form.get("action") == "submit":
        result = hand_in(db.session, participant, item, sheet, raw, key=request.form.get("submission_key"), at=at)
        if result.errors:
            flash(_("Your answers are saved as a draft. Please check the marked answers, then hand in again."), "error")
            return _render_worksheet(participant, item, mod, sheet, raw, result.errors)
        if result.submitted_now:
            flash(_("Handed in. Your therapist will read it and write to you."), "success")
        else:
            flash(_("This worksheet was already handed in."), "info")
        return redirect(url_for(".worksheet", item_id=item.id, worksheet_id=sheet.id))
    try:
        save_draft(db.session, participant, item, sheet, raw, at=at)
    except HomeworkLocked:
        flash(_("This worksheet was already handed in and can no longer change."), "info")
        return redirect(url_for(".worksheet", item_id=item.id, worksheet_id=sheet.id))
    flash(_("Draft saved. You can come back and go on later."), "success")
    return redirect(url_for(".worksheet", item_id=item.id, worksheet_id=sheet.id) + "#worksheet-form")


@bp.route("/modules/<int:item_id>/worksheets/<worksheet_id>/draft", methods=["POST"])
@role_required("patient")
def autosave(item_id: int, worksheet_id: str):  # type: ignore[no-untyped-def]
    """Autosave from static/js/autosave.js: the same form fields, answered with JSON."""
    participant = _me()
    item, the_plan, mod = _own_item(participant, item_id)
    if not item_is_open(the_plan, item, _today(participant)):
        return jsonify(error=_("This module is not open yet.")), 409
    sheet = _worksheet_or_404(mod, worksheet_id)
    try:
        homework = save_draft(db.session, participant, item, sheet, draft_from_form(sheet, request.form), at=clock.now())
    except HomeworkLocked:
        return jsonify(error=_("This worksheet was already handed in.")), 409
    saved = _local_time(homework.updated_at, participant.trial.timezone)
    return jsonify(saved_at=homework.updated_at.isoformat(), message=_("Draft saved at %(time)s", time=saved[11:]))


# ------------------------------------------------------------------ dashboard summary

@bp.app_template_global()
def patient_programme_summary(participant: Participant) -> dict[str, Any]:
    """What the patient's dashboard shows of the programme (used by patient/_programme.html)."""
    summary: dict[str, Any] = {"needs_screening": False, "screening_started": False, "progress": None,
                               "waiting": False, "waitlist": participant.arm == "waitlist"}
    if participant.status == ParticipantStatus.APPLICANT.value and not screening_complete(db.session, participant):
        summary["needs_screening"] = True
        summary["screening_started"] = screening_of(db.session, participant) is not None
    the_plan = plan_for(db.session, participant)
    if the_plan is not None and the_plan.approved:
        summary["progress"] = plan_progress(db.session, the_plan, _today(participant))
    elif participant.arm == "treatment":
        summary["waiting"] = True
    return summary
