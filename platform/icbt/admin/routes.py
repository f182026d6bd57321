"""The trial admin's pages."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from icbt.access import role_required
from icbt.admin.forms import AssignTherapistForm
from icbt.audit.services import record
from icbt.extensions import db
from icbt.trials.models import Participant, Trial
from icbt.trials.services import AssignmentError, assign_therapist
from icbt.users.models import Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@role_required("admin")
def dashboard():  # type: ignore[no-untyped-def]
    trials = db.session.scalars(select(Trial).order_by(Trial.created_at)).all()
    counts = db.session.execute(
        select(Participant.trial_id, Participant.arm, Participant.status, func.count())
        .group_by(Participant.trial_id, Participant.arm, Participant.status)
    ).all()
    by_trial: dict[int, list[tuple[str | None, str, int]]] = {}
    for trial_id, arm, status, n in counts:
        by_trial.setdefault(trial_id, []).append((arm, status, n))
    for rows in by_trial.values():
        rows.sort(key=lambda row: (row[0] or "", row[1]))
    therapists = db.session.execute(
        select(User, func.count(Participant.id))
        .outerjoin(Participant, Participant.therapist_id == User.id)
        .where(User.role == "therapist")
        .group_by(User.id)
        .order_by(User.display_name)
    ).all()
    return render_template("admin/dashboard.html", trials=trials, by_trial=by_trial, therapists=therapists)


def _therapist_choices() -> list[tuple[str, str]]:
    therapists = db.session.scalars(
        select(User).where(User.role == Role.THERAPIST.value, User.active.is_(True)).order_by(User.display_name)
    ).all()
    return [("", _("Nobody"))] + [(str(t.id), t.display_name) for t in therapists]


@bp.route("/participants")
@role_required("admin")
def participants():  # type: ignore[no-untyped-def]
    """Every participant by code, stage, arm and therapist (no names, no health data), with
    the therapist assignment. An applicant needs a therapist before anyone can assess them."""
    rows = db.session.scalars(
        select(Participant).options(joinedload(Participant.therapist), joinedload(Participant.trial))
        .order_by(Participant.trial_id, Participant.status, Participant.code)
    ).all()
    # One assignment form per row, written out by the template with the names
    # AssignTherapistForm(prefix=f"p{id}") reads back (a WTForms form object per row made a
    # list of 250 participants cost 100 ms, two thirds of it in the select widgets).
    record(db.session, "participant.list", detail={"count": len(rows)})
    return render_template("admin/participants.html", participants=rows, choices=_therapist_choices())


@bp.route("/participants/<int:participant_id>/therapist", methods=["POST"])
@role_required("admin")
def assign(participant_id: int):  # type: ignore[no-untyped-def]
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        abort(404)
    form = AssignTherapistForm(prefix=f"p{participant.id}")
    form.therapist.choices = _therapist_choices()
    if not form.validate_on_submit():
        flash(_("Choose a therapist from the list."), "error")
        return redirect(url_for(".participants"))
    therapist = db.session.get(User, int(form.therapist.data)) if form.therapist.data else None
    try:
        changed = assign_therapist(db.session, participant, therapist, actor=current_user._get_current_object())
    except AssignmentError:
        abort(400)
    if changed:
        flash(_("%(code)s: therapist %(name)s.", code=participant.code,
                name=therapist.display_name if therapist else _("nobody")), "success")
    return redirect(url_for(".participants") + f"#p-{participant.id}")
