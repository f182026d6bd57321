"""The patient's pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from icbt import pagecache
from icbt.access import role_required
from icbt.audit.services import record
from icbt.extensions import db
from icbt.trials.services import participant_of_user

bp = Blueprint("patient", __name__, url_prefix="/me")


@bp.route("/")
@role_required("patient")
def dashboard():  # type: ignore[no-untyped-def]
    participant = participant_of_user(db.session, current_user)
    if participant is None:
        return render_template("patient/dashboard.html", participant=None)
    html = pagecache.page(db.session, [pagecache.participant_scope(participant.id)],
                          lambda: (render_template("patient/dashboard.html", participant=participant), {}))[0]
    # The audit line last: its insert is flushed with the commit, so the page's reads never
    # wait for the write lock (SQLite) and every view is recorded, from the cache or not.
    record(db.session, "dashboard.view", target=participant)  # own record: stage, plan, questionnaires due
    return html
