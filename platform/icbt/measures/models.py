"""Measurement records: administrations, their answers, risk alerts and installed wording.

Storage choice: each answer is a row in ``administration_answers`` (one row per answered
item) with CheckConstraints on its range, and the computed scores are JSON on the
administration. Rows give the database the last word on ranges (the scale's bounds are
stored on each row, so one table serves 0-4, 1-7 and 0-3 scales), make the item-level export
(one row per answer) a plain SELECT, and make "insert only" easy to enforce. The draft
(answers not yet submitted) is JSON on the administration: it changes on every autosave and
is never analysed.

Immutability: answers are insert-only and an administration's answers, scores and
submission fields cannot change once it is submitted (``before_flush`` guard below). A staff
correction is a NEW administration with ``revision`` + 1, ``supersedes_id`` and a reason.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from icbt.db import Base, utcnow
from icbt.measures.schedule import STATUSES, TIMEPOINTS, window_status

if TYPE_CHECKING:
    from icbt.trials.models import Participant, Trial
    from icbt.users.models import User


class ImmutableRecordError(RuntimeError):
    """An attempt to change a submitted administration or a stored answer."""


class Administration(Base):
    """One questionnaire for one participant at one time point (or a staff correction of one)."""

    __tablename__ = "administrations"
    __table_args__ = (
        # One original per participant, instrument and time point; corrections count up.
        UniqueConstraint("participant_id", "instrument_id", "timepoint", "revision", name="uq_administrations_slot_revision"),
        CheckConstraint(f"timepoint IN {TIMEPOINTS!r}", name="timepoint_known"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint("revision >= 0", name="revision_nonnegative"),
        CheckConstraint("opens_at < closes_at", name="window_ordered"),
        CheckConstraint(
            "(status IN ('submitted', 'late')) = (submitted_at IS NOT NULL)", name="submitted_has_time"
        ),
        CheckConstraint(
            "(supersedes_id IS NULL AND revision = 0) OR "
            "(supersedes_id IS NOT NULL AND revision > 0 AND correction_reason IS NOT NULL)",
            name="correction_has_reason",
        ),
        Index("ix_administrations_status_opens_at", "status", "opens_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(32))
    # None: our own labels were shown; otherwise the installed wording's version.
    wording_version: Mapped[str | None] = mapped_column(String(64))
    timepoint: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    submitted_at: Mapped[dt.datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scores: Mapped[dict[str, Any] | None]
    # Answers not yet submitted, {"<item>": value}: kept server-side so they survive reloads.
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    draft_saved_at: Mapped[dt.datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    revision: Mapped[int] = mapped_column(default=0)
    # NO ACTION (checked at the end of the statement), so a chain can be removed in one go.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    opened_notified_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    participant: Mapped[Participant] = relationship()
    answers: Mapped[list[AdministrationAnswer]] = relationship(
        back_populates="administration", order_by="AdministrationAnswer.item_number"
    )
    supersedes: Mapped[Administration | None] = relationship(remote_side=[id])

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None

    def status_at(self, now: dt.datetime) -> str:
        """The status to show at ``now``. Pages never write: the stored ``status`` of an
        unsubmitted administration is moved by the periodic task (and by services at a state
        change), so a page computes it from the window instead of trusting it."""
        if self.submitted_at is not None:
            return self.status
        return window_status(self.opens_at, self.closes_at, now)

    def answer_map(self) -> dict[int, int]:
        return {a.item_number: a.value for a in self.answers}

    def __repr__(self) -> str:
        return f"<Administration {self.id} {self.instrument_id}/{self.timepoint} r{self.revision} {self.status}>"


class AdministrationAnswer(Base):
    """One answered item of a submitted administration. Insert-only."""

    __tablename__ = "administration_answers"
    __table_args__ = (
        UniqueConstraint("administration_id", "item_number"),
        CheckConstraint("item_number >= 1", name="item_number_positive"),
        CheckConstraint("scale_min >= 0 AND scale_max <= 10 AND scale_min < scale_max", name="scale_sane"),
        CheckConstraint("value BETWEEN scale_min AND scale_max", name="value_in_scale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id", ondelete="RESTRICT"), index=True)
    item_number: Mapped[int]
    value: Mapped[int]
    scale_min: Mapped[int]
    scale_max: Mapped[int]

    administration: Mapped[Administration] = relationship(back_populates="answers")


class RiskAlert(Base):
    """A risk answer above the instrument's threshold: one per administration and item."""

    __tablename__ = "risk_alerts"
    __table_args__ = (
        UniqueConstraint("administration_id", "item_number"),
        Index("ix_risk_alerts_participant_open", "participant_id", "acknowledged_at"),
        CheckConstraint(
            "(acknowledged_at IS NULL) = (acknowledged_by_id IS NULL)", name="acknowledged_has_who"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"))
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id", ondelete="RESTRICT"))
    instrument_id: Mapped[str] = mapped_column(String(64))
    item_number: Mapped[int]
    answer: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    participant: Mapped[Participant] = relationship()
    administration: Mapped[Administration] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()


class InstalledWording(Base):
    """Licensed item wording installed by a trial (``flask --app wsgi instruments install``)."""

    __tablename__ = "instrument_wordings"
    __table_args__ = (
        UniqueConstraint("trial_id", "instrument_id", "language", "wording_version", name="uq_instrument_wordings_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(32))
    wording_version: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="en")
    title: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    copyright: Mapped[str | None] = mapped_column(Text)
    # {"items": {"1": {"text": ..., "options": {"0": ...}}}, "options": {"0": ...}}
    content: Mapped[dict[str, Any]]
    source_sha256: Mapped[str] = mapped_column(String(64))
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    trial: Mapped[Trial] = relationship()


# ---------------------------------------------------------------- immutability guard

_FROZEN_FIELDS = (
    "scores", "submitted_at", "submitted_by_id", "idempotency_key", "instrument_id",
    "instrument_version", "wording_version", "participant_id", "timepoint", "revision",
    "supersedes_id", "correction_reason", "draft",
)


@event.listens_for(Session, "before_flush")
def _guard_submitted_records(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, AdministrationAnswer) and session.is_modified(obj):
            raise ImmutableRecordError("a stored answer cannot be changed")
        if isinstance(obj, Administration):
            state = inspect(obj)
            history = state.attrs.submitted_at.history
            before = history.deleted[0] if history.deleted else (history.unchanged[0] if history.unchanged else None)
            if before is None:  # not submitted before this flush
                continue
            changed = [f for f in _FROZEN_FIELDS if state.attrs[f].history.has_changes()]
            if "status" not in changed and state.attrs.status.history.has_changes():
                changed.append("status")
            if changed:
                raise ImmutableRecordError(
                    f"administration {obj.id} is submitted and cannot change ({', '.join(sorted(changed))}); "
                    "record a correction instead"
                )
    for obj in session.deleted:
        if isinstance(obj, AdministrationAnswer):
            raise ImmutableRecordError("a stored answer cannot be deleted")
        if isinstance(obj, Administration) and obj.submitted_at is not None:
            raise ImmutableRecordError("a submitted administration cannot be deleted")
    for obj in session.new:
        if isinstance(obj, AdministrationAnswer):
            parent = obj.administration
            if parent is not None and parent.submitted_at is not None and inspect(parent).persistent \
                    and not inspect(parent).attrs.submitted_at.history.added:
                raise ImmutableRecordError("answers cannot be added to a submitted administration")
