"""The therapist's pages: caseload and each patient."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from icbt import clock
from icbt.access import get_participant_or_404, role_required
from icbt.audit.services import record
from icbt.extensions import db

bp = Blueprint("therapist", __name__, url_prefix="/therapist")


@bp.route("/")
@role_required("therapist")
def caseload():  # type: ignore[no-untyped-def]
    """The caseload in attention order: risk alerts, overdue feedback, unread messages,
    homework waiting, inactive, the rest. A fixed number of queries for any size."""
    from icbt.messaging.caseload import caseload_rows

    now = clock.now()
    rows = caseload_rows(db.session, current_user._get_current_object(), now=now)
    record(db.session, "caseload.view", detail={"patients": len(rows)})
    return render_template("therapist/caseload.html", rows=rows, now=now)


@bp.route("/patients/<int:participant_id>")
@role_required("therapist")
def patient(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    record(db.session, "participant.view", target=participant)
    return render_template("therapist/patient.html", participant=participant)
