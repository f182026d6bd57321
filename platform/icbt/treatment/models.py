from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icbt.db import Base, utcnow

if TYPE_CHECKING:
    from icbt.content.models import ModuleVersion

PLAN_STATUSES = ("proposed", "approved")
HOMEWORK_STATUSES = ("draft", "submitted", "reviewed")


class ModulePlan(Base):
    """A participant's modules in order. One regular plan, and one more for a cross-over."""

    __tablename__ = "module_plans"
    __table_args__ = (
        UniqueConstraint("participant_id", "is_crossover"),
        CheckConstraint(f"status IN {PLAN_STATUSES!r}", name="status_known"),
        CheckConstraint("status <> 'approved' OR (approved_at IS NOT NULL AND start_date IS NOT NULL)",
                        name="approved_has_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    is_crossover: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("assessed_profiles.id", ondelete="SET NULL"))
    proposal: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the engine's output, kept as made
    rules_version: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    start_date: Mapped[dt.date | None] = mapped_column(Date)

    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", order_by="PlanItem.position", cascade="all, delete-orphan"
    )
    changes: Mapped[list[PlanChange]] = relationship(back_populates="plan", order_by="PlanChange.id")

    @property
    def approved(self) -> bool:
        return self.status == "approved"


class PlanItem(Base):
    """One module in a plan: its week (position), the exact version given, and why."""

    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "module_key"),
        UniqueConstraint("plan_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("module_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    module_key: Mapped[str] = mapped_column(String(64))
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_versions.id", ondelete="RESTRICT"))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[dict[str, Any]] = mapped_column(default=dict)  # engine Reason.to_dict()
    unlocked_early_at: Mapped[dt.datetime | None]
    unlocked_early_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan: Mapped[ModulePlan] = relationship(back_populates="items")
    module_version: Mapped[ModuleVersion] = relationship(lazy="joined")


class PlanChange(Base):
    """Every change to a plan: who, when, what and why. Never edited."""

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("module_plans.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(24))  # propose add remove move approve unlock
    module_key: Mapped[str | None] = mapped_column(String(64))
    from_position: Mapped[int | None]
    to_position: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    modules_before: Mapped[list[Any]] = mapped_column(default=list)
    modules_after: Mapped[list[Any]] = mapped_column(default=list)

    plan: Mapped[ModulePlan] = relationship(back_populates="changes")


class PageRead(Base):
    """A module page the patient opened (first and latest time)."""

    __tablename__ = "page_reads"
    __table_args__ = (
        UniqueConstraint("plan_item_id", "page"),
        Index("ix_page_reads_participant_last", "participant_id", "last_read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"))
    page: Mapped[int]
    first_read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Homework(Base):
    """A worksheet of a plan item: a draft while the patient writes, then handed in (immutable)."""

    __tablename__ = "homework"
    __table_args__ = (
        UniqueConstraint("plan_item_id", "worksheet_id"),
        CheckConstraint(f"status IN {HOMEWORK_STATUSES!r}", name="status_known"),
        CheckConstraint("status = 'draft' OR submitted_at IS NOT NULL", name="submitted_has_time"),
        CheckConstraint("status <> 'reviewed' OR reviewed_at IS NOT NULL", name="reviewed_has_time"),
        Index("ix_homework_participant_status", "participant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"))
    worksheet_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the draft as typed, then the checked answers
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    submission_key: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan_item: Mapped[PlanItem] = relationship()

    @property
    def handed_in(self) -> bool:
        return self.status in ("submitted", "reviewed")
