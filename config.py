"""Configuration for the ICBT platform.

The embedded default (``DevelopmentConfig``) needs no environment at all: it keeps its
SQLite database, task queue and generated secret key in ``instance/``. Environment
variables switch the parts that production replaces:

``DATABASE_URL``   PostgreSQL (``postgresql://user@host/db``) instead of the SQLite file
``REDIS_URL``      the Huey task queue on Redis instead of a SQLite file
``HUEY_QUEUE_NAME`` the queue's name (default ``icbt``; keeps platforms sharing a Redis apart)
``SECRET_KEY``     the session signing key (required in production)
``ICBT_CONFIG``    ``development`` (default), ``production`` or ``test``
``ICBT_INSTANCE``  the instance folder (default: ``instance/`` beside this file)
``THROTTLE_STORAGE_URL``  login-failure counters in Redis (``redis://...``) instead of the database
``ICBT_TRUSTED_PROXIES``  number of reverse proxies in front of the app (client address from X-Forwarded-For)
``ICBT_FAKE_NOW``, ``ICBT_FAKE_NOW_FILE``  set the clock (development and test only; see
                  platform/icbt/clock.py); production refuses to start when either is set
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class ConfigurationError(RuntimeError):
    """Raised when a configuration cannot be used safely; the message says what to set."""


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_path() -> Path:
    return Path(os.environ.get("ICBT_INSTANCE", ROOT / "instance")).resolve()


def _generated_secret(instance: Path) -> str:
    """Read the secret key from the instance folder, creating it on first run."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        # O_EXCL so two processes starting at once cannot write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    NAME = "base"
    ROOT = ROOT
    MIGRATIONS_DIR = ROOT / "migrations"
    MODULES_DIR = ROOT / "modules"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 4 * 3600
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("en",)

    # Argon2id, OWASP password storage cheat sheet: m=19 MiB, t=2, p=1.
    PASSWORD_HASH = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}

    # Sessions (seconds): idle timeout by role, absolute lifetime, how recent a
    # re-authentication must be before changing e-mail, password or second factor.
    SESSION_IDLE_TIMEOUT = {"patient": 30 * 60, "therapist": 15 * 60, "admin": 15 * 60}
    SESSION_ABSOLUTE_LIFETIME = 12 * 3600
    REAUTH_MAX_AGE = 5 * 60
    DEVICE_COOKIE_NAME = "icbt_device"
    FORCE_HTTPS = False  # answer plain HTTP with a redirect to HTTPS (production: behind TLS)
    TOTP_ISSUER = "ICBT platform"
    # Audit detail keys not declared with allow_detail_keys(): an error (True) or dropped
    # with a warning (False, production: an audit call must never break a request).
    AUDIT_STRICT = True

    # Outgoing e-mail: without SMTP_HOST, messages are written to instance/outbox/.
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_USER = os.environ.get("SMTP_USER")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "ICBT platform <no-reply@localhost>")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
    # A folder of extra instrument definitions (YAML) that add to or replace the shipped ones.
    INSTRUMENTS_EXTRA_DIR = os.environ.get("INSTRUMENTS_DIR") or None

    # The clock override (icbt.clock): only DevelopmentConfig and TestConfig read it.
    FAKE_NOW: str | None = None
    FAKE_NOW_FILE: str | None = None

    def __init__(self, instance_path: Path | str | None = None) -> None:
        self.INSTANCE_PATH = Path(instance_path).resolve() if instance_path else _instance_path()
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{self.INSTANCE_PATH / 'icbt.sqlite3'}"
        )
        redis_url = os.environ.get("REDIS_URL")
        queue_name = os.environ.get("HUEY_QUEUE_NAME", "icbt")  # several platforms on one Redis
        if redis_url:
            self.HUEY = {"backend": "redis", "url": redis_url, "name": queue_name, "immediate": False}
        else:
            self.HUEY = {
                "backend": "sqlite",
                "filename": str(self.INSTANCE_PATH / "huey.sqlite3"),
                "name": queue_name,
                "immediate": False,
            }
        self.OUTBOX_DIR = self.INSTANCE_PATH / "outbox"
        self.REPORTS_DIR = self.INSTANCE_PATH / "reports"
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or self._default_secret()
        self.THROTTLE_STORAGE_URL = os.environ.get("THROTTLE_STORAGE_URL") or None
        self.TRUSTED_PROXIES = int(os.environ.get("ICBT_TRUSTED_PROXIES") or 0)

    def _default_secret(self) -> str:
        return _generated_secret(self.INSTANCE_PATH)

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in dir(self) if key.isupper()}


def _read_clock_override(config: Config) -> None:
    config.FAKE_NOW = os.environ.get("ICBT_FAKE_NOW") or None
    config.FAKE_NOW_FILE = os.environ.get("ICBT_FAKE_NOW_FILE") or None
    if config.FAKE_NOW:
        from icbt.clock import parse_fake_now

        try:
            parse_fake_now(config.FAKE_NOW)
        except ValueError:
            raise ConfigurationError(
                f"ICBT_FAKE_NOW={config.FAKE_NOW!r} is not a date (2026-03-02) or an ISO 8601 "
                "date and time (2026-03-02T09:00:00+01:00)."
            ) from None


class DevelopmentConfig(Config):
    """The embedded default: everything in instance/, nothing to set up."""

    NAME = "development"

    def __init__(self, instance_path: Path | str | None = None) -> None:
        super().__init__(instance_path)
        _read_clock_override(self)


class ProductionConfig(Config):
    """Refuses to start without its secrets; never falls back to a generated key."""

    NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    DEVICE_COOKIE_NAME = "__Host-icbt_device"
    FORCE_HTTPS = True
    AUDIT_STRICT = False

    def __init__(self, instance_path: Path | str | None = None) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise ConfigurationError(
                "Production configuration needs these environment variables: "
                + ", ".join(missing)
                + ". Nothing was started."
            )
        if len(os.environ["SECRET_KEY"]) < 32:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters long.")
        faked = [name for name in ("ICBT_FAKE_NOW", "ICBT_FAKE_NOW_FILE") if os.environ.get(name)]
        if faked:
            raise ConfigurationError(
                f"{', '.join(faked)} must not be set in production (it sets the clock for tests). "
                "Nothing was started."
            )
        super().__init__(instance_path)

    def _default_secret(self) -> str:  # pragma: no cover - guarded in __init__
        raise ConfigurationError("SECRET_KEY is not set.")


class TestConfig(Config):
    """Used by the test suite: cheap password hashing, queue in immediate mode."""

    NAME = "test"
    TESTING = True
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}

    def __init__(self, database_url: str | None = None, instance_path: Path | str | None = None) -> None:
        super().__init__(instance_path)
        url = database_url or os.environ.get("ICBT_TEST_DATABASE_URL")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            url or f"sqlite:///{self.INSTANCE_PATH / 'test.sqlite3'}"
        )
        self.HUEY = {"backend": "memory", "name": "icbt-test", "immediate": True}
        _read_clock_override(self)

    def _default_secret(self) -> str:
        return "test-secret-key-not-for-production-use-0123456789"


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "test": TestConfig,
}


def load_config(name: str | None = None) -> Config:
    """The configuration named by ``name`` or ``ICBT_CONFIG`` (default: development)."""
    name = name or os.environ.get("ICBT_CONFIG", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigurationError(
            f"Unknown ICBT_CONFIG {name!r}; use one of: {', '.join(CONFIGS)}"
        ) from None
    return cls()
