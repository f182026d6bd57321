"""A report run: one execution of the trial analysis, tracked from queued to done or failed."""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icbt.db import Base, utcnow

if TYPE_CHECKING:
    from icbt.trials.models import Trial
    from icbt.users.models import User


class RunStatus(str, enum.Enum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"  # a worker holds it and beats its heartbeat
    DONE = "done"  # results.json, figures and exports are in output_dir
    FAILED = "failed"  # error_message says why (the worker died, the data could not be read...)


RUN_STATUS_VALUES = tuple(s.value for s in RunStatus)
ACTIVE_STATUSES = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
_ACTIVE_SQL = text("status IN ('queued', 'running')")


class ReportRun(Base):
    __tablename__ = "report_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUS_VALUES!r}", name="status_known"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        # At most one queued or running run per trial: a double click starts one run.
        Index("uq_report_runs_active_trial", "trial_id", unique=True,
              sqlite_where=_ACTIVE_SQL, postgresql_where=_ACTIVE_SQL),
        Index("ix_report_runs_trial_created", "trial_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="RESTRICT"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value)
    progress: Mapped[float] = mapped_column(default=0.0)
    current_step: Mapped[str | None] = mapped_column(String(32))
    # The worker holding the run ("host:pid:token"); progress writes only succeed for it.
    worker: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[dt.datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)  # shown to admins only
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_fingerprint: Mapped[str | None] = mapped_column(String(80))
    software_version: Mapped[str | None] = mapped_column(String(32))
    output_dir: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    trial: Mapped[Trial] = relationship()
    requested_by: Mapped[User | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def __repr__(self) -> str:
        return f"<ReportRun {self.id} {self.status} {self.progress:.2f}>"
