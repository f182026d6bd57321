"""Clean-up the shared fixtures cannot do on SQLite: staff corrections reference the
administration they replace (ON DELETE RESTRICT, checked row by row), so they go first."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select

from icbt.extensions import db
from icbt.measures.models import Administration, AdministrationAnswer


@pytest.fixture(autouse=True)
def _delete_corrections_first(app) -> Iterator[None]:  # type: ignore[no-untyped-def]
    yield
    db.session.rollback()
    engine = app.extensions["icbt.db"]
    with engine.begin() as conn:
        if conn.dialect.name != "sqlite":
            return
        top = conn.execute(select(func.max(Administration.revision))).scalar() or 0
        for revision in range(top, 0, -1):
            ids = select(Administration.id).where(Administration.revision == revision)
            conn.execute(delete(AdministrationAnswer).where(AdministrationAnswer.administration_id.in_(ids)))
            conn.execute(delete(Administration).where(Administration.revision == revision))
