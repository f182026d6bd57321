"""The therapist's pages: caseload and each patient."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from icbt.access import get_participant_or_404, role_required
from icbt.audit.services import record
from icbt.extensions import db
from icbt.trials.models import Participant
from icbt.trials.services import visible_participants

bp = Blueprint("therapist", __name__, url_prefix="/therapist")


@bp.route("/")
@role_required("therapist")
def caseload():  # type: ignore[no-untyped-def]
    stmt = (
        visible_participants(current_user)
        .options(joinedload(Participant.user))
        .order_by(Participant.code)
    )
    participants = db.session.scalars(stmt).all()
    return render_template("therapist/caseload.html", participants=participants)


@bp.route("/patients/<int:participant_id>")
@role_required("therapist")
def patient(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    record(db.session, "participant.view", target=participant)
    return render_template("therapist/patient.html", participant=participant)
