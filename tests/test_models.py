from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from icbt.extensions import db
from icbt.trials.models import Participant


def test_timestamps_come_back_timezone_aware_utc(participant: Participant) -> None:
    stamp = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    participant.randomised_at = stamp
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(Participant, participant.id)
    assert loaded.randomised_at == stamp
    assert loaded.randomised_at.utcoffset() == dt.timedelta(0)
    assert loaded.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(participant: Participant) -> None:
    participant.randomised_at = dt.datetime(2026, 3, 1, 12, 30)
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(("field", "value"), [("arm", "placebo"), ("status", "lost")])
def test_check_constraints_hold(participant: Participant, field: str, value: str) -> None:
    setattr(participant, field, value)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_foreign_keys_are_enforced(participant: Participant) -> None:
    participant.therapist_id = 987654
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
