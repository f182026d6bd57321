from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from icbt.db import Base, utcnow
from icbt.tailoring.problems import PROBLEM_KEYS, SEVERITIES


class IntakeScreening(Base):
    """The patient's own screening answers: how much each problem troubles them (0-10).

    One per participant (a double submit stores one). ``instruments`` holds further
    screening results keyed by instrument id (GAD-7, PHQ-9 arrive with the measures work).
    """

    __tablename__ = "intake_screenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), unique=True)
    ratings: Mapped[dict[str, Any]]  # {problem key: 0-10}
    free_text: Mapped[str] = mapped_column(Text, default="")
    instruments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AssessedProfile(Base):
    """The therapist's assessment. A re-assessment adds a row; the latest one counts."""

    __tablename__ = "assessed_profiles"
    __table_args__ = (
        CheckConstraint(f"primary_problem IS NULL OR primary_problem IN {PROBLEM_KEYS!r}", name="primary_known"),
        CheckConstraint(f"primary_severity IS NULL OR primary_severity IN {SEVERITIES!r}", name="severity_known"),
        CheckConstraint("eligible OR reason <> ''", name="excluded_has_reason"),
        CheckConstraint("NOT eligible OR (primary_problem IS NOT NULL AND primary_severity IS NOT NULL)",
                        name="eligible_has_primary"),
        Index("ix_assessed_profiles_participant_latest", "participant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    primary_problem: Mapped[str | None] = mapped_column(String(32))
    primary_severity: Mapped[str | None] = mapped_column(String(16))
    comorbid: Mapped[list[Any]] = mapped_column(default=list)  # [{"problem": key, "severity": s}, ...]
    eligible: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, default="")  # why not eligible (required then), or notes
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def comorbid_pairs(self) -> list[tuple[str, str]]:
        return [(c["problem"], c["severity"]) for c in self.comorbid or []]
