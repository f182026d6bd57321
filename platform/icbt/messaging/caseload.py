"""What the therapist's caseload page and the admin's load page show, computed with a
fixed number of queries whatever the caseload size (no per-patient queries).

Attention order: unacknowledged risk alerts, overdue feedback, unread messages, homework
waiting for feedback, inactive for ``trial.settings['inactive_days']`` days (default 7),
then the rest.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from icbt.messaging import feedback_links
from icbt.messaging.feedback import median
from icbt.messaging.models import Conversation, Message, MessageKind, SenderRole
from icbt.messaging.services import last_patient_message_at, unread_from_patients
from icbt.messaging.therapist_time import local_day
from icbt.trials.models import Participant, ParticipantStatus
from icbt.users.models import Role, User

DEFAULT_INACTIVE_DAYS = 7
RESPONSE_WINDOW_DAYS = 90


class Attention(int, enum.Enum):
    RISK = 0
    OVERDUE_FEEDBACK = 1
    UNREAD = 2
    HOMEWORK_WAITING = 3
    INACTIVE = 4
    NONE = 5


@dataclass
class CaseloadRow:
    participant: Participant
    attention: Attention
    risk_alerts: int = 0
    overdue: int = 0
    waiting: int = 0
    unread: int = 0
    inactive_days: int | None = None
    week: int | None = None
    module_title: str | None = None
    last_activity: dt.datetime | None = None
    core_om: float | None = None
    oldest_due: dt.datetime | None = None
    feedback: list = field(default_factory=list)

    @property
    def sort_key(self) -> tuple:
        due = self.oldest_due.timestamp() if self.oldest_due else float("inf")
        return (self.attention.value, -self.risk_alerts, due, -self.unread, self.participant.code)


def inactive_days_of(participant: Participant) -> int:
    try:
        return max(1, int(participant.trial.setting("inactive_days", DEFAULT_INACTIVE_DAYS)))
    except (TypeError, ValueError):
        return DEFAULT_INACTIVE_DAYS


def classify(row: CaseloadRow) -> Attention:
    """The row's attention class from its counts (pure)."""
    if row.risk_alerts:
        return Attention.RISK
    if row.overdue:
        return Attention.OVERDUE_FEEDBACK
    if row.unread:
        return Attention.UNREAD
    if row.waiting:
        return Attention.HOMEWORK_WAITING
    if row.inactive_days is not None:
        return Attention.INACTIVE
    return Attention.NONE


def _inactive_for(participant: Participant, last_activity: dt.datetime | None, now: dt.datetime) -> int | None:
    """Days without activity if that is at least the trial's limit (active participants only)."""
    if participant.status != ParticipantStatus.ACTIVE.value:
        return None
    limit = inactive_days_of(participant)
    if last_activity is not None:
        days = (now - last_activity).days
    elif participant.start_date is not None:
        days = (local_day(now, participant.trial.timezone) - participant.start_date).days
    else:
        return None
    return days if days >= limit else None


def caseload_rows(session: Session, therapist: User, *, now: dt.datetime) -> list[CaseloadRow]:
    """The therapist's caseload in attention order (a bounded number of queries)."""
    participants = list(
        session.scalars(
            select(Participant)
            .where(Participant.therapist_id == therapist.id)
            # the trial (one row) by a second query, not repeated in each of the rows
            .options(joinedload(Participant.user), selectinload(Participant.trial))
            .order_by(Participant.code)
        )
    )
    ids = [p.id for p in participants]
    unread = unread_from_patients(session, ids)
    last_message = last_patient_message_at(session, ids)
    owed = feedback_links.feedback_owed(session, ids, now)
    progress = feedback_links.treatment_progress(session, ids, now)
    alerts = feedback_links.risk_alert_counts(session, ids)
    scores = feedback_links.latest_core_om(session, ids)
    rows = []
    for p in participants:
        info = progress.get(p.id, {})
        activity = [a for a in (info.get("last_activity"), last_message.get(p.id)) if a is not None]
        last_activity = max(activity) if activity else None
        items = owed.get(p.id, [])
        row = CaseloadRow(
            participant=p,
            attention=Attention.NONE,
            risk_alerts=alerts.get(p.id, 0),
            overdue=sum(1 for f in items if f.overdue),
            waiting=len(items),
            unread=unread.get(p.id, 0),
            inactive_days=_inactive_for(p, last_activity, now),
            week=info.get("week"),
            module_title=info.get("module_title"),
            last_activity=last_activity,
            core_om=scores.get(p.id),
            oldest_due=min((f.due_at for f in items), default=None),
            feedback=items,
        )
        row.attention = classify(row)
        rows.append(row)
    rows.sort(key=lambda r: r.sort_key)
    return rows


def inbox_rows(session: Session, therapist: User) -> list[dict]:
    """Conversations of the caseload: unread first, then most recent (three queries)."""
    participants = list(
        session.scalars(
            select(Participant).where(Participant.therapist_id == therapist.id)
            .options(joinedload(Participant.user)).order_by(Participant.code)
        )
    )
    ids = [p.id for p in participants]
    unread = unread_from_patients(session, ids)
    last = dict(
        session.execute(
            select(Conversation.participant_id, func.max(Message.sent_at))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.participant_id.in_(ids))
            .group_by(Conversation.participant_id)
        ).all()
    ) if ids else {}
    rows = [{"participant": p, "unread": unread.get(p.id, 0), "last": last.get(p.id)} for p in participants]
    rows.sort(key=lambda r: (-r["unread"], -(r["last"].timestamp() if r["last"] else 0), r["participant"].code))
    return rows


@dataclass
class TherapistLoad:
    therapist: User
    patients: int
    active: int
    overdue_feedback: int
    median_response_hours: float | None
    responses: int


def response_times_by_therapist(events) -> dict[int, list[float]]:  # type: ignore[no-untyped-def]
    """Per responding therapist: seconds from the first unanswered patient message to the
    therapist's next message in that conversation. ``events``: (conversation id, sender
    role, author id, sent at) in time order per conversation (pure)."""
    waiting: dict[int, dt.datetime] = {}
    out: dict[int, list[float]] = defaultdict(list)
    for conversation_id, sender, author_id, sent_at in events:
        if sender == SenderRole.PATIENT.value:
            waiting.setdefault(conversation_id, sent_at)
        elif sender == SenderRole.THERAPIST.value and conversation_id in waiting:
            out[author_id].append((sent_at - waiting.pop(conversation_id)).total_seconds())
    return out


def therapist_loads(session: Session, *, now: dt.datetime) -> list[TherapistLoad]:
    """Every therapist's load, without message contents (a bounded number of queries)."""
    therapists = list(session.scalars(select(User).where(User.role == Role.THERAPIST.value).order_by(User.display_name)))
    counts = session.execute(
        select(Participant.therapist_id, Participant.status, func.count(Participant.id))
        .where(Participant.therapist_id.is_not(None))
        .group_by(Participant.therapist_id, Participant.status)
    ).all()
    patients: dict[int, int] = defaultdict(int)
    active: dict[int, int] = defaultdict(int)
    for therapist_id, status, n in counts:
        patients[therapist_id] += n
        if status == ParticipantStatus.ACTIVE.value:
            active[therapist_id] += n
    owner = dict(session.execute(select(Participant.id, Participant.therapist_id).where(Participant.therapist_id.is_not(None))).all())
    overdue: dict[int, int] = defaultdict(int)
    for pid, items in feedback_links.feedback_owed(session, list(owner), now).items():
        overdue[owner[pid]] += sum(1 for f in items if f.overdue)
    since = now - dt.timedelta(days=RESPONSE_WINDOW_DAYS)
    events = session.execute(
        select(Message.conversation_id, Message.sender_role, Message.author_id, Message.sent_at)
        .where(Message.kind == MessageKind.MESSAGE.value, Message.sent_at >= since)
        .order_by(Message.conversation_id, Message.sent_at, Message.id)
    ).all()
    times = response_times_by_therapist(events)
    loads = []
    for t in therapists:
        mine = times.get(t.id, [])
        med = median(mine)
        loads.append(TherapistLoad(
            therapist=t, patients=patients.get(t.id, 0), active=active.get(t.id, 0),
            overdue_feedback=overdue.get(t.id, 0),
            median_response_hours=round(med / 3600, 1) if med is not None else None, responses=len(mine),
        ))
    return loads
