"""The patient's pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from icbt.access import role_required
from icbt.audit.services import record
from icbt.extensions import db
from icbt.trials.services import participant_of_user

bp = Blueprint("patient", __name__, url_prefix="/me")


@bp.route("/")
@role_required("patient")
def dashboard():  # type: ignore[no-untyped-def]
    participant = participant_of_user(db.session, current_user)
    if participant is not None:  # the patient's own record: stage, plan, questionnaires due
        record(db.session, "dashboard.view", target=participant)
    return render_template("patient/dashboard.html", participant=participant)
