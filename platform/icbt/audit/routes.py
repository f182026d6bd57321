"""The audit trail for admins: filter by participant and by user, newest first, paged."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import Length, Optional

from icbt.access import role_required
from icbt.audit.models import AuditEvent
from icbt.audit.services import record
from icbt.extensions import db
from icbt.security.hooks import MAX_ID
from icbt.textinput import PlainText
from icbt.trials.models import Participant
from icbt.users.models import User
from icbt.users.services import normalise_email

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PAGE_SIZE = 50


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    participant = StringField(_l("Participant (code or number)"), validators=[Optional(), Length(max=32), PlainText()])
    user = StringField(_l("User (e-mail address or number)"), validators=[Optional(), Length(max=254), PlainText()])
    action = StringField(_l("Action starts with"), validators=[Optional(), Length(max=64), PlainText()])


def _as_id(text: str) -> int | None:
    text = text.strip().lstrip("#")
    if text.isascii() and text.isdigit() and 0 < len(text) <= 10 and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


@bp.route("/")
@role_required("admin")
def log():  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.args)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    participant = user = None
    unmatched = False
    if request.args and form.validate():
        if form.participant.data:
            text = form.participant.data.strip()
            pid = _as_id(text)
            participant = (db.session.get(Participant, pid) if pid else
                           db.session.scalar(select(Participant).where(Participant.code == text.upper()).limit(1)))
            if participant is None:
                form.participant.errors.append(_l("No participant has this code or number."))
                unmatched = True
            else:
                stmt = stmt.where(AuditEvent.participant_id == participant.id)
        if form.user.data:
            text = form.user.data.strip()
            uid = _as_id(text)
            user = db.session.get(User, uid) if uid else db.session.scalar(select(User).where(User.email == normalise_email(text)))
            if user is None:
                form.user.errors.append(_l("No user has this e-mail address or number."))
                unmatched = True
            else:
                stmt = stmt.where(AuditEvent.actor_id == user.id)
        if form.action.data:
            prefix = form.action.data.strip().replace("\\", "").replace("%", "").replace("_", "\\_")
            stmt = stmt.where(AuditEvent.action.like(prefix + "%", escape="\\"))
    elif request.args:
        unmatched = True
    before = _as_id(request.args.get("before", ""))
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    events = [] if unmatched else list(db.session.scalars(stmt.limit(PAGE_SIZE + 1)))
    has_more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id})))}
    codes = dict(db.session.execute(
        select(Participant.id, Participant.code).where(Participant.id.in_({e.participant_id for e in events if e.participant_id}))
    ).all())
    record(db.session, "audit.view", participant=participant, detail={
        "filters": sorted(k for k in ("participant", "user", "action") if request.args.get(k)),
        "user_id": user.id if user else None,
    })
    next_args = {k: v for k, v in request.args.items() if k in ("participant", "user", "action")}
    return render_template(
        "admin/audit.html", form=form, events=events, actors=actors, codes=codes,
        has_more=has_more, next_before=events[-1].id if events else None, next_args=next_args,
        page_size=PAGE_SIZE,
    )
