"""The therapist's treatment pages: assessment, the plan (edit, approve, unlock), homework.

Every route is for the therapist role and only for patients in the therapist's own
caseload (``get_participant_or_404``: 404 if there is no such patient, 403 if not theirs).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from icbt.access import get_participant_or_404, role_required
from icbt.audit.services import record
from icbt.content import store
from icbt.content.services import module_of
from icbt.extensions import db
from icbt.intake.services import IntakeError, current_profile, profile_history, record_assessment, screening_of
from icbt.measures.schedule import windows_from_settings
from icbt.measures.screening import screening_scores
from icbt.therapists.programme_forms import ApproveForm, AssessmentForm, CsrfForm, PlanChangeForm, UnlockForm, choices
from icbt import clock
from icbt.treatment.models import Homework, ModulePlan, PlanItem
from icbt.treatment.services import (
    HomeworkLocked, PlanError, approve_plan, change_plan, frozen_positions, handed_in_homework, mark_homework_reviewed,
    plan_for, plan_progress, plans_of, propose_plan, unlock_early,
)
from icbt.trials.models import Participant
from icbt.users.models import User

bp = Blueprint("therapist_programme", __name__, url_prefix="/therapist/patients")


def _today(participant: Participant):  # type: ignore[no-untyped-def]
    return clock.today(participant.trial.timezone)


# ------------------------------------------------------------------ assessment

@bp.route("/<int:participant_id>/assessment", methods=["GET", "POST"])
@role_required("therapist")
def assessment(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    screening = screening_of(db.session, participant)
    profile = current_profile(db.session, participant)
    form = AssessmentForm()
    if request.method == "GET" and profile is not None:
        form.eligible.data = "yes" if profile.eligible else "no"
        form.primary.data = profile.primary_problem or ""
        form.primary_severity.data = profile.primary_severity
        form.reason.data = profile.reason
        for problem, severity in profile.comorbid_pairs:
            getattr(form, f"comorbid_{problem}").data = severity
    if form.validate_on_submit():
        try:
            record_assessment(
                db.session, participant, actor=current_user._get_current_object(),
                eligible=form.eligible.data == "yes", primary=form.primary.data or None,
                severity=form.primary_severity.data or None, comorbid=form.comorbid(), reason=form.reason.data or "",
            )
        except IntakeError as error:
            flash(str(error), "error")
            return redirect(url_for(".assessment", participant_id=participant.id))
        flash(_("The assessment is saved."), "success")
        return redirect(url_for("therapist.patient", participant_id=participant.id))
    record(db.session, "intake.assessment_view", target=participant)
    return render_template("therapist/assessment.html", participant=participant, screening=screening,
                           scores=screening_scores(db.session, participant), profile=profile,
                           history=profile_history(db.session, participant), form=form)


# ------------------------------------------------------------------ plan

def _plan_or_404(participant: Participant) -> ModulePlan:
    plan = plan_for(db.session, participant)
    if plan is None:
        abort(404)
    return plan


@bp.route("/<int:participant_id>/plan")
@role_required("therapist")
def plan(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    return _render_plan(participant)


def _render_plan(participant: Participant, change_form: PlanChangeForm | None = None,
                 approve_form: ApproveForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    plans = plans_of(db.session, participant)
    the_plan = plans[-1] if plans else None
    today = _today(participant)
    progress = plan_progress(db.session, the_plan, today) if the_plan else None
    library = store().library()
    change_form = change_form or PlanChangeForm()
    change_form.module.choices = choices([("", _("Choose…"))] + [
        (m.id, f"{m.title} ({m.id})") for m in sorted(library, key=lambda m: m.title)])
    approve_form = approve_form or ApproveForm()
    pre_days = windows_from_settings(participant.trial.settings)["pre_days"]
    if approve_form.start_date.data is None:
        # The questionnaires before treatment are open the pre_days before the start date:
        # starting that far ahead gives the patient the whole window to answer them.
        approve_form.start_date.data = today + dt.timedelta(days=pre_days)
    actors: dict[int, str] = {}
    if the_plan is not None:
        ids = {c.actor_id for c in the_plan.changes if c.actor_id}
        if ids:
            actors = {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    record(db.session, "plan.view", target=the_plan or participant, participant=participant)  # the profile is shown too
    titles = {m.id: m.title for m in library}
    return render_template(
        "therapist/plan.html", participant=participant, plan=the_plan, progress=progress, today=today,
        frozen=frozen_positions(the_plan, today) if the_plan else 0, change_form=change_form,
        approve_form=approve_form, unlock_form=UnlockForm(), csrf_form=CsrfForm(), actors=actors, titles=titles,
        profile=current_profile(db.session, participant), rules=store().rules, pre_days=pre_days,
    ), status


@bp.route("/<int:participant_id>/plan/propose", methods=["POST"])
@role_required("therapist")
def propose(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    if participant.arm != "treatment":
        flash(_("Only participants in the treatment arm get a plan here (a cross-over is started by the trial admin)."), "error")
        return redirect(url_for(".plan", participant_id=participant.id))
    try:
        propose_plan(db.session, participant, actor=current_user._get_current_object())
    except PlanError as error:
        flash(str(error), "error")
    return redirect(url_for(".plan", participant_id=participant.id))


@bp.route("/<int:participant_id>/plan/change", methods=["POST"])
@role_required("therapist")
def change(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    the_plan = _plan_or_404(participant)
    form = PlanChangeForm()
    form.module.choices = choices([("", "")] + [(m.id, m.title) for m in store().library()])
    if not form.validate_on_submit():
        return _render_plan(participant, change_form=form, status=200)
    try:
        change_plan(db.session, the_plan, actor=current_user._get_current_object(), action=form.action.data,
                    module_key=form.module.data, position=form.position.data, reason=form.reason.data,
                    today=_today(participant))
    except PlanError as error:
        db.session.rollback()
        form.module.errors = [str(error)]
        return _render_plan(participant, change_form=form, status=200)
    flash(_("The plan is changed."), "success")
    return redirect(url_for(".plan", participant_id=participant.id))


@bp.route("/<int:participant_id>/plan/approve", methods=["POST"])
@role_required("therapist")
def approve(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    the_plan = _plan_or_404(participant)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _render_plan(participant, approve_form=form)
    try:
        approve_plan(db.session, the_plan, actor=current_user._get_current_object(), start_date=form.start_date.data,
                     today=_today(participant), note=form.note.data or "")
    except PlanError as error:
        form.start_date.errors = [str(error)]
        return _render_plan(participant, approve_form=form)
    flash(_("The plan is approved. The first module opens on %(date)s.", date=form.start_date.data.isoformat()), "success")
    return redirect(url_for(".plan", participant_id=participant.id))


@bp.route("/<int:participant_id>/plan/items/<int:item_id>/unlock", methods=["POST"])
@role_required("therapist")
def unlock(participant_id: int, item_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    the_plan = _plan_or_404(participant)
    item = db.session.get(PlanItem, item_id)
    if item is None or item.plan_id != the_plan.id:
        abort(404)
    form = UnlockForm()
    if not form.validate_on_submit():
        flash(form.reason.errors[0] if form.reason.errors else _("Write the reason for opening it early."), "error")
        return redirect(url_for(".plan", participant_id=participant.id))
    try:
        unlock_early(db.session, item, actor=current_user._get_current_object(), reason=form.reason.data,
                     today=_today(participant), at=clock.now())
    except PlanError as error:
        flash(str(error), "error")
        return redirect(url_for(".plan", participant_id=participant.id))
    flash(_("The module is open to the patient now."), "success")
    return redirect(url_for(".plan", participant_id=participant.id))


# ------------------------------------------------------------------ homework

def _homework_or_404(participant: Participant, homework_id: int) -> Homework:
    homework = db.session.get(Homework, homework_id)
    if homework is None or homework.participant_id != participant.id:
        abort(404)
    if not homework.handed_in:  # drafts are the patient's own until handed in
        abort(404)
    return homework


@bp.route("/<int:participant_id>/homework/<int:homework_id>")
@role_required("therapist")
def homework(participant_id: int, homework_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    hw = _homework_or_404(participant, homework_id)
    module = module_of(hw.plan_item.module_version)
    sheet = module.worksheet(hw.worksheet_id)
    if sheet is None:  # pragma: no cover - stored versions keep their worksheets
        abort(404)
    record(db.session, "homework.view", target=hw, participant=participant)
    reviewer = db.session.get(User, hw.reviewed_by_id) if hw.reviewed_by_id else None
    return render_template("therapist/homework.html", participant=participant, homework=hw, module=module,
                           worksheet=sheet, reviewer=reviewer, form=CsrfForm(), tz=participant.trial.timezone)


@bp.route("/<int:participant_id>/homework/<int:homework_id>/reviewed", methods=["POST"])
@role_required("therapist")
def reviewed(participant_id: int, homework_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    hw = _homework_or_404(participant, homework_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        if mark_homework_reviewed(db.session, hw, current_user._get_current_object(), at=clock.now()):
            flash(_("Marked as read."), "success")
    except HomeworkLocked:
        abort(409)
    return redirect(url_for(".homework", participant_id=participant.id, homework_id=hw.id))


# ------------------------------------------------------------------ the patient page's treatment part

@bp.app_template_global()
def therapist_programme_summary(participant: Participant) -> dict[str, Any]:
    """What therapist/patient.html shows of intake and treatment (see therapist/_programme.html)."""
    today = _today(participant)
    the_plan = plan_for(db.session, participant)
    progress = plan_progress(db.session, the_plan, today) if the_plan else None
    handed_in = handed_in_homework(db.session, participant)
    titles: dict[int, tuple[str, str]] = {}
    for hw in handed_in:
        module = module_of(hw.plan_item.module_version)
        sheet = module.worksheet(hw.worksheet_id)
        titles[hw.id] = (module.title, sheet.title if sheet else hw.worksheet_id)
    return {
        "screening": screening_of(db.session, participant),
        "scores": screening_scores(db.session, participant),
        "profile": current_profile(db.session, participant),
        "plan": the_plan,
        "progress": progress,
        "handed_in": handed_in,
        "titles": titles,
        "today": today,
    }
