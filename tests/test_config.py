from __future__ import annotations

from pathlib import Path

import pytest

import config as cfg


def test_embedded_default_needs_no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ICBT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    config = cfg.load_config()
    assert isinstance(config, cfg.DevelopmentConfig)
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'icbt.sqlite3'}"
    assert config.HUEY["backend"] == "sqlite"
    assert config.HUEY["filename"] == str(tmp_path / "huey.sqlite3")
    # The secret key is generated once into the instance folder and then reused.
    key = (tmp_path / "secret_key").read_text().strip()
    assert config.SECRET_KEY == key and len(key) == 64
    assert cfg.load_config().SECRET_KEY == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_switches_database_and_queue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.internal/icbt")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    config = cfg.load_config("development")
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db.internal/icbt"
    assert config.HUEY == {"backend": "redis", "url": "redis://127.0.0.1:6379/3", "name": "icbt", "immediate": False}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_its_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, missing: str) -> None:
    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.delenv(missing)
    with pytest.raises(cfg.ConfigurationError, match=missing):
        cfg.load_config("production")
    assert not (tmp_path / "secret_key").exists()  # no fallback key was generated


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    with pytest.raises(cfg.ConfigurationError, match="32 characters"):
        cfg.load_config("production")


def test_production_cookies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    config = cfg.load_config("production")
    assert config.SESSION_COOKIE_SECURE and config.SESSION_COOKIE_NAME.startswith("__Host-")
    assert config.SECRET_KEY == "k" * 48


def test_unknown_config_name_is_a_clear_error() -> None:
    with pytest.raises(cfg.ConfigurationError, match="Unknown ICBT_CONFIG 'staging'"):
        cfg.load_config("staging")
