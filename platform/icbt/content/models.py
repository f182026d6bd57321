"""Module versions kept in the database: what a patient was assigned stays readable.

When a module enters a plan, its parsed content (pages as Markdown, worksheets, title...)
is stored once per (module, language, version, content hash). Plan items point to that
row, so a patient keeps reading the version they were given even after the file in
``modules/`` has moved on, and the hash shows whether a file changed without a version bump.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from icbt.db import Base, utcnow


class ModuleVersion(Base):
    __tablename__ = "module_versions"
    __table_args__ = (UniqueConstraint("module_key", "lang", "version", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_key: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]  # Module.snapshot()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
