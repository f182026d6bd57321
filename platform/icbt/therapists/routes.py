"""The therapist's pages: caseload and each patient."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from icbt import clock, pagecache
from icbt.access import get_participant_or_404, role_required
from icbt.audit.services import record
from icbt.extensions import db

bp = Blueprint("therapist", __name__, url_prefix="/therapist")

CASELOAD_PAGE_SIZE = 25  # rows per caseload page


@bp.route("/")
@role_required("therapist")
def caseload():  # type: ignore[no-untyped-def]
    """The caseload in attention order: risk alerts, overdue feedback, unread messages,
    homework waiting, inactive, the rest. A fixed number of queries for any size."""
    from icbt.messaging.caseload import caseload_rows

    page = request.args.get("page", 1, type=int) or 1

    def build() -> tuple[str, dict]:
        now = clock.now()
        rows = caseload_rows(db.session, current_user._get_current_object(), now=now)
        # Paged in attention order: the first page holds those who need the therapist first;
        # the rest follow on further pages (a caseload of 200 in one table costs the server
        # about ten times a page of CASELOAD_PAGE_SIZE, and is hard to scan).
        size = CASELOAD_PAGE_SIZE
        pages = max(1, -(-len(rows) // size))
        if not 1 <= page <= pages:
            abort(404)
        shown = rows[(page - 1) * size: page * size]
        needing = sum(1 for row in rows if row.attention.name != "NONE")
        # Risk alerts to acknowledge (the box above the table), from the counts already loaded.
        alerts = sorted(((row.participant, row.risk_alerts) for row in rows if row.risk_alerts),
                        key=lambda pair: (-pair[1], pair[0].code))
        html = render_template("therapist/caseload.html", rows=shown, total=len(rows), needing=needing,
                               page=page, pages=pages, first=(page - 1) * size + 1, caseload_alerts=alerts,
                               now=now)
        return html, {"patients": len(rows)}

    # From the page cache while nothing in the caseload changed (any write about one of these
    # patients changes the therapist's scope); the audit line is written on every view.
    html, facts = pagecache.page(db.session, [pagecache.therapist_scope(current_user.id)], build)
    record(db.session, "caseload.view", detail={"patients": facts["patients"], "page": page})
    return html


@bp.route("/patients/<int:participant_id>")
@role_required("therapist")
def patient(participant_id: int):  # type: ignore[no-untyped-def]
    participant = get_participant_or_404(participant_id)
    record(db.session, "participant.view", target=participant)
    return render_template("therapist/patient.html", participant=participant)
