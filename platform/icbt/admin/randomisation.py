"""The trial admin's randomisation page: randomise eligible participants, offer cross-overs.

The page never shows or hints at the next allocation: it lists who is waiting and what was
already allocated; the arm is computed only when the admin presses the button.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from icbt.access import role_required
from icbt.audit.services import record
from icbt.extensions import db
from icbt.intake.models import AssessedProfile
from icbt.patients.programme_forms import CsrfForm
from icbt.treatment.models import ModulePlan
from icbt.trials.allocation import Allocation, AllocationError, can_cross_over, cross_over, randomise
from icbt.trials.models import Arm, Participant, ParticipantStatus, Trial
from icbt.users.models import User

bp = Blueprint("admin_randomisation", __name__, url_prefix="/admin")


@bp.route("/randomisation")
@role_required("admin")
def index():  # type: ignore[no-untyped-def]
    trials = db.session.scalars(select(Trial).order_by(Trial.created_at)).all()
    eligible = db.session.scalars(
        select(Participant).options(joinedload(Participant.therapist))
        .where(Participant.status == ParticipantStatus.ELIGIBLE.value).order_by(Participant.trial_id, Participant.id)
    ).all()
    allocations = db.session.execute(
        select(Allocation, Participant.code, User.display_name)
        .join(Participant, Participant.id == Allocation.participant_id)
        .outerjoin(User, User.id == Allocation.allocated_by_id)
        .order_by(Allocation.allocated_at.desc(), Allocation.id.desc())
    ).all()
    crossed = set(db.session.scalars(select(ModulePlan.participant_id).where(ModulePlan.is_crossover.is_(True))))
    crossover_candidates = [
        p for p in db.session.scalars(
            select(Participant).where(Participant.arm == Arm.WAITLIST.value).order_by(Participant.code)
        ) if can_cross_over(p) and p.id not in crossed
    ]
    primary = dict(db.session.execute(
        select(AssessedProfile.participant_id, AssessedProfile.primary_problem)
        .where(AssessedProfile.participant_id.in_([p.id for p in eligible]))
        .order_by(AssessedProfile.id)
    ).all()) if eligible else {}
    record(db.session, "randomisation.view")
    by_trial = {t.id: [p for p in eligible if p.trial_id == t.id] for t in trials}
    return render_template("admin/randomisation.html", trials=trials, by_trial=by_trial, allocations=allocations,
                           crossover_candidates=crossover_candidates, crossed=crossed, primary=primary, form=CsrfForm())


def _randomise_one(participant: Participant) -> bool:
    try:
        allocation = randomise(db.session, participant, actor=current_user._get_current_object())
    except AllocationError as error:
        flash(_("%(code)s: %(reason)s", code=participant.code, reason=str(error)), "error")
        return False
    label = _("treatment") if allocation.arm == Arm.TREATMENT.value else _("waiting list")
    flash(_("%(code)s was randomised to %(arm)s.", code=participant.code, arm=label), "success")
    return True


@bp.route("/randomisation/<int:participant_id>", methods=["POST"])
@role_required("admin")
def randomise_participant(participant_id: int):  # type: ignore[no-untyped-def]
    if not CsrfForm().validate_on_submit():
        abort(400)
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        abort(404)
    _randomise_one(participant)
    return redirect(url_for(".index"))


@bp.route("/randomisation/trials/<int:trial_id>/all", methods=["POST"])
@role_required("admin")
def randomise_all(trial_id: int):  # type: ignore[no-untyped-def]
    if not CsrfForm().validate_on_submit():
        abort(400)
    trial = db.session.get(Trial, trial_id)
    if trial is None:
        abort(404)
    waiting = db.session.scalars(
        select(Participant).where(Participant.trial_id == trial.id, Participant.status == ParticipantStatus.ELIGIBLE.value)
        .order_by(Participant.id)
    ).all()
    done = sum(_randomise_one(p) for p in waiting)
    if not waiting:
        flash(_("Nobody is waiting for randomisation."), "info")
    elif done:
        flash(_("%(n)d participants randomised.", n=done), "success")
    return redirect(url_for(".index"))


@bp.route("/crossover/<int:participant_id>", methods=["POST"])
@role_required("admin")
def crossover(participant_id: int):  # type: ignore[no-untyped-def]
    if not CsrfForm().validate_on_submit():
        abort(400)
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        abort(404)
    try:
        cross_over(db.session, participant, actor=current_user._get_current_object())
    except (AllocationError, ValueError) as error:
        flash(_("%(code)s: %(reason)s", code=participant.code, reason=str(error)), "error")
        return redirect(url_for(".index"))
    flash(_("%(code)s is offered treatment (cross-over). The therapist approves the plan.", code=participant.code), "success")
    return redirect(url_for(".index"))
