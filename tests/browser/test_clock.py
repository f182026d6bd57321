"""The clock a journey controls: ``live_server.set_clock(...)`` moves the running server's
time (every worker process) between two requests; the journeys of questionnaires due in
week 3 use it."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from config import normalise_database_url
from icbt.extensions import make_engine
from tests.browser import accounts
from tests.browser.pages import LoginPage


def last_login_at(database_url: str, user_email: str) -> dt.datetime:
    engine = make_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT last_login_at FROM users WHERE email = :email"), {"email": user_email}
            ).scalar_one()
    finally:
        engine.dispose()
    if isinstance(value, str):  # SQLite returns text for a raw query
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_the_server_follows_the_test_clock(visit, live_server) -> None:  # type: ignore[no-untyped-def]
    moments = [dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc), dt.datetime(2026, 3, 23, 9, 0, tzinfo=dt.timezone.utc)]
    try:
        for moment in moments:
            live_server.set_clock(moment)
            v = visit("clock")
            LoginPage.open(v).log_in(accounts.ADMIN).log_out()
            assert last_login_at(live_server.database_url, accounts.ADMIN.email) == moment
    finally:
        live_server.set_clock(None)
    v = visit("clock-real")
    LoginPage.open(v).log_in(accounts.ADMIN)
    real = last_login_at(live_server.database_url, accounts.ADMIN.email)
    assert abs(real - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
