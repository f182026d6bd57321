"""E-mails queued in a transaction leave at the outermost commit only: a SAVEPOINT released
(e.g. around a measurement listener) sends nothing yet, one rolled back drops its own."""
from __future__ import annotations

from pathlib import Path

from icbt.extensions import db
from icbt.notifications import outbox_messages, send_email


def _subjects(app) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(m["Subject"] for m in outbox_messages(Path(app.config["OUTBOX_DIR"])))


def test_savepoints_neither_send_nor_drop_the_outer_mail(app) -> None:
    before = _subjects(app)
    db.session.connection()  # a transaction is open, as in a request
    send_email("a@example.org", "outer", "x", session=db.session)
    with db.session.begin_nested():
        send_email("a@example.org", "kept", "x", session=db.session)
    try:
        with db.session.begin_nested():
            send_email("a@example.org", "dropped", "x", session=db.session)
            raise RuntimeError("a listener failed")
    except RuntimeError:
        pass
    assert _subjects(app) == before  # nothing left before the commit
    db.session.commit()
    assert _subjects(app) == sorted([*before, "outer", "kept"])


def test_a_rollback_drops_everything(app) -> None:
    before = _subjects(app)
    db.session.connection()
    send_email("a@example.org", "never", "x", session=db.session)
    with db.session.begin_nested():
        send_email("a@example.org", "never either", "x", session=db.session)
    db.session.rollback()
    db.session.commit()
    assert _subjects(app) == before
