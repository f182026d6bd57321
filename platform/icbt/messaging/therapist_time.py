"""Therapist time per patient: counted from the heartbeat of open patient pages, capped,
with manual corrections that carry a reason. Trials report minutes of therapist support
per patient per treatment week; days are the trial's local days.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.db import utcnow
from icbt.messaging.models import TherapistTimeCorrection, TherapistTimeDay
from icbt.messaging.text import clean_text
from icbt.trials.models import Participant
from icbt.users.models import User

HEARTBEAT_SECONDS = 30  # how often an open page reports (static/js/therapist-time.js)
MAX_CREDIT_SECONDS = 60  # one beat never counts for more than this (a sleeping laptop)
DAILY_CAP_SECONDS = 4 * 3600  # per therapist, patient and day


class TimeError(ValueError):
    """A correction that cannot be stored; the message is for the user."""


def credit_for(last_beat_at: dt.datetime | None, now: dt.datetime, *, cap: int = MAX_CREDIT_SECONDS) -> int:
    """Seconds one heartbeat adds: the time since the previous beat, at most ``cap``;
    nothing for the first beat of a page (it only starts the clock) or a clock going back."""
    if last_beat_at is None:
        return 0
    elapsed = (now - last_beat_at).total_seconds()
    if elapsed <= 0:
        return 0
    return int(min(elapsed, cap))


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def treatment_week(day: dt.date, start_date: dt.date | None) -> int | None:
    """Week 1 is the start date and the six days after it; days before it are week 0;
    None when the participant has no start date."""
    if start_date is None:
        return None
    delta = (day - start_date).days
    return 0 if delta < 0 else delta // 7 + 1


def record_heartbeat(
    session: Session, therapist: User, participant: Participant, *, now: dt.datetime | None = None,
    start: bool = False,
) -> int:
    """Count time on ``participant``'s pages; returns the seconds credited."""
    now = now or utcnow()
    day = local_day(now, participant.trial.timezone)
    row = _day_row(session, therapist, participant, day)
    credited = 0 if start else credit_for(row.last_beat_at, now)
    credited = max(0, min(credited, DAILY_CAP_SECONDS - row.seconds))
    row.seconds += credited
    row.last_beat_at = now
    session.flush()
    return credited


def _day_row(session: Session, therapist: User, participant: Participant, day: dt.date) -> TherapistTimeDay:
    stmt = select(TherapistTimeDay).where(
        TherapistTimeDay.therapist_id == therapist.id,
        TherapistTimeDay.participant_id == participant.id,
        TherapistTimeDay.day == day,
    )
    row = session.scalar(stmt)
    if row is not None:
        return row
    row = TherapistTimeDay(therapist_id=therapist.id, participant_id=participant.id, day=day, seconds=0)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # two tabs beat at once
        row = session.scalar(stmt)
        if row is None:  # pragma: no cover
            raise
    return row


def add_correction(
    session: Session, therapist: User, participant: Participant, *, day: dt.date, minutes: int, reason: str
) -> TherapistTimeCorrection:
    reason = " ".join(clean_text(reason).split())
    if not reason:
        raise TimeError(_l("Say why the time is corrected."))
    if len(reason) > 500:
        raise TimeError(_l("Keep the reason to at most 500 characters."))
    if minutes == 0 or not -600 <= minutes <= 600:
        raise TimeError(_l("Enter a correction between -600 and 600 minutes, not 0."))
    correction = TherapistTimeCorrection(
        therapist_id=therapist.id, participant_id=participant.id, day=day, minutes=minutes, reason=reason
    )
    session.add(correction)
    session.flush()
    record(session, "therapist_time.correct", actor=therapist, target=correction,
           participant_id=participant.id, detail={"minutes": minutes, "day": day.isoformat()})
    return correction


@dataclass
class WeekMinutes:
    participant_id: int
    code: str
    week: int | None
    counted_minutes: float
    corrected_minutes: int

    @property
    def minutes(self) -> float:
        return max(0.0, self.counted_minutes + self.corrected_minutes)


def minutes_per_patient_week(
    session: Session, *, participant_ids: list[int] | None = None, trial_id: int | None = None
) -> list[WeekMinutes]:
    """Minutes per participant and treatment week (all therapists together), three queries
    whatever the number of participants."""
    pstmt = select(Participant.id, Participant.code, Participant.start_date)
    if participant_ids is not None:
        pstmt = pstmt.where(Participant.id.in_(participant_ids))
    if trial_id is not None:
        pstmt = pstmt.where(Participant.trial_id == trial_id)
    people = {pid: (code, start) for pid, code, start in session.execute(pstmt)}
    if not people:
        return []
    ids = list(people)
    counted = session.execute(
        select(TherapistTimeDay.participant_id, TherapistTimeDay.day, func.sum(TherapistTimeDay.seconds))
        .where(TherapistTimeDay.participant_id.in_(ids))
        .group_by(TherapistTimeDay.participant_id, TherapistTimeDay.day)
    ).all()
    corrected = session.execute(
        select(TherapistTimeCorrection.participant_id, TherapistTimeCorrection.day,
               func.sum(TherapistTimeCorrection.minutes))
        .where(TherapistTimeCorrection.participant_id.in_(ids))
        .group_by(TherapistTimeCorrection.participant_id, TherapistTimeCorrection.day)
    ).all()
    weeks: dict[tuple[int, int | None], list[float]] = defaultdict(lambda: [0.0, 0])
    for pid, day, seconds in counted:
        weeks[(pid, treatment_week(day, people[pid][1]))][0] += (seconds or 0) / 60
    for pid, day, minutes in corrected:
        weeks[(pid, treatment_week(day, people[pid][1]))][1] += int(minutes or 0)
    out = [
        WeekMinutes(pid, people[pid][0], week, round(values[0], 1), int(values[1]))
        for (pid, week), values in weeks.items()
    ]
    out.sort(key=lambda w: (w.code, -1 if w.week is None else w.week))
    return out
