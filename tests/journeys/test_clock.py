"""The clock the tests control: icbt.clock.now()/today() and its override."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from flask import Flask

import config as configuration
from config import ConfigurationError, DevelopmentConfig, ProductionConfig
from icbt import clock
from icbt.db import utcnow
from icbt.users.models import User

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02", dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("2026-03-02T09:30:00+01:00", dt.datetime(2026, 3, 2, 8, 30, tzinfo=UTC)),
        ("2026-03-02T09:30:00Z", dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T09:30:00", dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),  # naive means UTC
        (" 2026-12-31T23:59:59-05:00\n", dt.datetime(2027, 1, 1, 4, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_fake_now(text: str, expected: dt.datetime) -> None:
    parsed = clock.parse_fake_now(text)
    assert parsed == expected and parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("bad", ["", "tomorrow", "2026-13-01", "02/03/2026"])
def test_parse_fake_now_refuses_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        clock.parse_fake_now(bad)


def test_real_clock_outside_an_app_context() -> None:
    before = dt.datetime.now(UTC)
    value = clock.now()
    after = dt.datetime.now(UTC)
    assert value.tzinfo is not None and before <= value <= after


def test_config_override_sets_now_today_and_model_defaults(app: Flask, session, factory) -> None:
    app.config["FAKE_NOW"] = "2026-03-01T23:30:00+00:00"
    try:
        assert clock.now() == dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        assert clock.today() == dt.date(2026, 3, 1)
        # Stockholm is UTC+1 in March: already the next day there; New York is still the 1st.
        assert clock.today("Europe/Stockholm") == dt.date(2026, 3, 2)
        assert clock.today("America/New_York") == dt.date(2026, 3, 1)
        assert utcnow() == dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        user = factory.user()
        session.expire_all()
        assert session.get(User, user.id).created_at == dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    finally:
        app.config["FAKE_NOW"] = None


def test_production_ignores_a_config_override(app: Flask) -> None:
    app.config.update(FAKE_NOW="2001-01-01", NAME="production")
    try:
        assert clock.now().year >= 2025
    finally:
        app.config.update(FAKE_NOW=None, NAME="test")


def test_file_override_moves_the_clock_between_calls(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "now"
    app.config["FAKE_NOW_FILE"] = str(path)
    app.config["FAKE_NOW"] = "2030-01-01"
    try:
        assert clock.now() == dt.datetime(2030, 1, 1, 12, tzinfo=UTC)  # no file yet: FAKE_NOW
        clock.write_fake_now(path, "2026-03-02")
        assert clock.today() == dt.date(2026, 3, 2)
        clock.write_fake_now(path, dt.date(2026, 3, 23))  # three weeks on
        assert clock.today() == dt.date(2026, 3, 23)
        clock.write_fake_now(path, None)  # cleared: back to FAKE_NOW
        assert clock.now() == dt.datetime(2030, 1, 1, 12, tzinfo=UTC)
    finally:
        app.config.update(FAKE_NOW=None, FAKE_NOW_FILE=None)


def test_environment_sets_development_and_test_configs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICBT_FAKE_NOW", "2026-03-02")
    monkeypatch.setenv("ICBT_FAKE_NOW_FILE", str(tmp_path / "now"))
    for config in (DevelopmentConfig(tmp_path), configuration.TestConfig(instance_path=tmp_path)):
        assert config.FAKE_NOW == "2026-03-02"
        assert config.FAKE_NOW_FILE == str(tmp_path / "now")


def test_environment_with_a_bad_value_stops_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICBT_FAKE_NOW", "next tuesday")
    with pytest.raises(ConfigurationError, match="ICBT_FAKE_NOW"):
        DevelopmentConfig(tmp_path)


@pytest.mark.parametrize("variable", ["ICBT_FAKE_NOW", "ICBT_FAKE_NOW_FILE"])
def test_production_refuses_to_start_with_a_fake_clock(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv(variable, "2026-03-02")
    with pytest.raises(ConfigurationError, match=variable):
        ProductionConfig()
    monkeypatch.delenv(variable)
    assert ProductionConfig().FAKE_NOW is None and os.environ.get(variable) is None


def test_the_worker_follows_the_clock_file(app: Flask, session, factory, tmp_path: Path, monkeypatch) -> None:
    """The background worker's tasks run in the app's context, so a server's moved clock
    (ICBT_FAKE_NOW_FILE) moves them too: a questionnaire window opens when the file says."""
    import datetime as dt

    from icbt.extensions import queue
    from icbt.measures.models import Administration
    from icbt.measures.tasks import refresh_measurements

    path = tmp_path / "now"
    monkeypatch.setitem(app.config, "FAKE_NOW_FILE", str(path))
    trial = factory.trial(timezone="Europe/Stockholm", weeks=10)
    factory.participant(trial=trial, arm="waitlist", status="active", start_date=dt.date(2026, 3, 9))
    assert queue.app is app
    clock.write_fake_now(path, "2026-02-20")  # before the pre window (2-8 March)
    session.commit()  # like another process: the task's own session needs SQLite's write lock
    refresh_measurements()
    session.expire_all()
    pre = session.query(Administration).filter_by(instrument_id="core-om", timepoint="pre").one()
    assert pre.status == "scheduled" and pre.opened_notified_at is None
    clock.write_fake_now(path, "2026-03-03")
    session.commit()
    refresh_measurements()
    session.expire_all()
    pre = session.get(Administration, pre.id)
    assert pre.status == "open" and pre.opened_notified_at == dt.datetime(2026, 3, 3, 12, tzinfo=UTC)
