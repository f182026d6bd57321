"""``load_dataset(session, trial)``: the trial's stored scores as a ``TrialDataset``, streamed.

Reads the measures tables directly with one ordered query over participants and their
administrations (``yield_per``: rows arrive in chunks, no ORM objects are built), so memory
grows with the number of participants (one small record each), not with the number of rows.
Same rules as ``icbt.measures.services.analysis_records`` (a test keeps them equal): the latest
revision of each administration wins (a staff correction replaces the original), a score
counts only when that administration is submitted (on time or late), and the stored scores
are used as computed at submission.

Pass a read-only session (``db.read_only_session()``) so that on SQLite the long read never
holds the write lock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.analysis.dataset import AllianceScores, ParticipantData, TrialDataset
from icbt.measures.models import Administration
from icbt.measures.services import ANALYSIS_SLOTS
from icbt.trials.models import Participant, Trial

#: which stored score of each slot the analysis uses
SCORE_OF_SLOT = {
    "core_om_pre": "total_clinical",
    "core_om_post": "total_clinical",
    "gad7_screening": "total",
    "phq9_screening": "total",
}
ALLIANCE_SLOTS = ("wai_week3", "expected_alliance")
ASSESSED_STATUSES = frozenset({"eligible", "excluded"})  # plus everyone with an arm
CHUNK = 5000


def trial_today(trial: Trial, now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        zone = ZoneInfo(trial.timezone)
    except Exception:  # noqa: BLE001 - a bad zone name falls back to UTC
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(slots=True)
class SlotRecord:
    """The current (latest-revision) administration of one slot."""

    instrument_id: str
    instrument_version: str | None
    status: str
    submitted: bool
    revision: int
    scores: dict[str, Any] | None  # the stored scores; None unless submitted
    missing_items: list[int]


@dataclass(slots=True)
class ParticipantRows:
    """One participant with the current administration of each analysis slot."""

    id: int
    code: str
    arm: str | None
    status: str
    start_date: dt.date | None
    slots: dict[str, SlotRecord] = field(default_factory=dict)


def participant_data(rows: ParticipantRows, today: dt.date) -> ParticipantData:
    """Fold one participant's slots into the analysis record (scores and flow flags)."""

    def slot_scores(slot: str) -> dict[str, Any]:
        rec = rows.slots.get(slot)
        return (rec.scores or {}) if rec is not None and rec.submitted else {}

    def score(slot: str) -> float | None:
        return _number(slot_scores(slot).get(SCORE_OF_SLOT[slot]))

    def alliance(slot: str) -> AllianceScores:
        s = slot_scores(slot)
        return AllianceScores(_number(s.get("total")), _number(s.get("task")), _number(s.get("bond")),
                              _number(s.get("goal")))

    def submitted(slot: str) -> bool:
        rec = rows.slots.get(slot)
        return rec is not None and rec.submitted

    randomised = rows.arm is not None
    return ParticipantData(
        code=rows.code, arm=rows.arm,
        gad7_screening=score("gad7_screening"), phq9_screening=score("phq9_screening"),
        core_om_pre=score("core_om_pre"), core_om_post=score("core_om_post"),
        wai_week3=alliance("wai_week3"), expected=alliance("expected_alliance"),
        assessed=randomised or rows.status in ASSESSED_STATUSES,
        excluded=rows.status == "excluded",
        started=randomised and rows.start_date is not None and rows.start_date <= today,
        completed_week3=submitted("wai_week3"),
        completed_post=submitted("core_om_post"),
    )


def stream_participants(session: Session, trial: Trial, *, slots: Mapping[tuple[str, str], str] | None = None,
                        progress: Callable[[float], None] | None = None) -> Iterator[ParticipantRows]:
    """Every participant of ``trial`` (in id order) with their current administration per slot,
    read in chunks with one ordered query."""
    slot_of = dict(slots or ANALYSIS_SLOTS)
    total = session.scalar(select(func.count()).select_from(Participant).where(Participant.trial_id == trial.id)) or 0
    stmt = (
        select(Participant.id, Participant.code, Participant.arm, Participant.status, Participant.start_date,
               Administration.instrument_id, Administration.timepoint, Administration.instrument_version,
               Administration.status, Administration.submitted_at.is_not(None), Administration.revision,
               Administration.scores)
        .select_from(Participant)
        .outerjoin(Administration, Administration.participant_id == Participant.id)
        .where(Participant.trial_id == trial.id)
        .order_by(Participant.id, Administration.revision, Administration.id)
    )
    # Core rows through a server-side cursor (no ORM row processing): fast and flat in memory.
    connection = session.connection().execution_options(yield_per=CHUNK)
    with connection.execute(stmt) as result:
        yield from _fold(result, slot_of, total, progress)
    if progress:
        progress(1.0)


def _fold(result: Any, slot_of: Mapping[tuple[str, str], str], total: int,
          progress: Callable[[float], None] | None) -> Iterator[ParticipantRows]:
    current: ParticipantRows | None = None
    done = 0
    for (pid, code, arm, status, start_date, instrument_id, timepoint, version, adm_status, submitted, revision,
         stored) in result:
        if current is None or pid != current.id:
            if current is not None:
                yield current
                done += 1
                if progress and total and done % CHUNK == 0:
                    progress(done / total)
            current = ParticipantRows(pid, code, arm, status, start_date)
        if instrument_id is None:
            continue
        slot = slot_of.get((instrument_id, timepoint))
        if slot is None:
            continue
        # rows arrive by ascending revision: the last one is the current one
        is_submitted = bool(submitted)
        current.slots[slot] = SlotRecord(
            instrument_id, version, adm_status, is_submitted, int(revision or 0),
            dict((stored or {}).get("scores") or {}) if is_submitted else None,
            list((stored or {}).get("missing_items") or []) if is_submitted else [],
        )
    if current is not None:
        yield current


def load_dataset(session: Session, trial: Trial, *, slots: Mapping[tuple[str, str], str] | None = None,
                 now: dt.datetime | None = None,
                 progress: Callable[[float], None] | None = None) -> TrialDataset:
    """Every participant of ``trial`` (randomised or not, for the flow counts) with their scores."""
    today = trial_today(trial, now)
    participants: list[ParticipantData] = []
    versions: dict[str, set[str]] = {}
    for rows in stream_participants(session, trial, slots=slots, progress=progress):
        participants.append(participant_data(rows, today))
        for rec in rows.slots.values():
            if rec.submitted and rec.instrument_version:
                versions.setdefault(rec.instrument_id, set()).add(rec.instrument_version)
    return TrialDataset(trial.slug, participants,
                        {k: ",".join(sorted(v)) for k, v in sorted(versions.items())})
