"""The trial admin's pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from icbt.access import role_required
from icbt.extensions import db
from icbt.trials.models import Participant, Trial
from icbt.users.models import User

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
