from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icbt.db import Base, utcnow

if TYPE_CHECKING:
    from icbt.users.models import User


class Arm(str, enum.Enum):
    TREATMENT = "treatment"
    WAITLIST = "waitlist"


class ParticipantStatus(str, enum.Enum):
    APPLICANT = "applicant"  # has an account, screening not complete
    SCREENED = "screened"  # screening done, waiting for the therapist's assessment
    ELIGIBLE = "eligible"  # assessed and eligible, waiting for randomisation
    EXCLUDED = "excluded"  # assessed and not eligible
    RANDOMISED = "randomised"  # allocated, treatment (or waiting) not started
    ACTIVE = "active"  # in treatment weeks, or in the waiting period
    COMPLETED = "completed"  # treatment weeks and post measure over
    WITHDRAWN = "withdrawn"


ARM_VALUES = tuple(a.value for a in Arm)
STATUS_VALUES = tuple(s.value for s in ParticipantStatus)


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (
        CheckConstraint("weeks BETWEEN 1 AND 52", name="weeks_range"),
        CheckConstraint("module_cap BETWEEN 1 AND 52", name="module_cap_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Stockholm")
    weeks: Mapped[int] = mapped_column(default=10)
    module_cap: Mapped[int] = mapped_column(default=10)
    open_for_registration: Mapped[bool] = mapped_column(default=False)
    # Free-form settings owned by later capabilities (feedback days, windows, help text...).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    participants: Mapped[list[Participant]] = relationship(back_populates="trial")

    def setting(self, key: str, default: Any = None) -> Any:
        return (self.settings or {}).get(key, default)


class Participant(Base):
    """A patient's enrolment in a trial. Known to analysts only by ``code``."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        CheckConstraint(f"arm IS NULL OR arm IN {ARM_VALUES!r}", name="arm_known"),
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), unique=True
    )
    code: Mapped[str] = mapped_column(String(16))
    arm: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ParticipantStatus.APPLICANT.value)
    therapist_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    start_date: Mapped[dt.date | None]
    randomised_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    trial: Mapped[Trial] = relationship(back_populates="participants")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    therapist: Mapped[User | None] = relationship(foreign_keys=[therapist_id])

    def __repr__(self) -> str:
        return f"<Participant {self.code} {self.arm or '-'} {self.status}>"
