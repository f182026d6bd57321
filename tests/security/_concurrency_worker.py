"""A separate process that writes to the same SQLite database as the web app, the way a
background worker does: read, then write, then commit, many times in a row."""
from __future__ import annotations

from typing import Any


def run(database_url: str, instance: str, n: int, start: Any, results: Any, begin: str = "IMMEDIATE") -> None:
    import datetime as dt

    from sqlalchemy import func, select

    from config import TestConfig
    from icbt import create_app
    from icbt.audit.models import AuditEvent
    from icbt.audit.services import record
    from icbt.extensions import db
    from icbt.security.throttle import DatabaseStore

    app = create_app(TestConfig(database_url=database_url, instance_path=instance))
    errors: list[str] = []
    done = 0
    start.wait(30)
    with app.app_context():
        session = db.session
        if begin == "DEFERRED":  # the failure mode the platform avoids, for comparison
            from sqlalchemy.orm import Session

            session = Session(bind=db.engine.execution_options(sqlite_begin="DEFERRED"))
        for i in range(n):
            try:
                session.scalar(select(func.count()).select_from(AuditEvent))  # read first...
                record(session, "worker.tick", detail={"count": i})  # ...then write
                DatabaseStore(session).hit("worker:ticks", dt.datetime.now(dt.timezone.utc), 3600)
                session.commit()
                done += 1
            except Exception as error:  # noqa: BLE001 - reported to the test
                session.rollback()
                errors.append(f"{error.__class__.__name__}: {str(error).splitlines()[0]}")
    app.extensions["icbt.db"].dispose()
    results.put((done, errors))
