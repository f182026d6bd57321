"""Brute force: failures counted per account and per address with exponential backoff,
a 429 page, no user enumeration, and no long lock-out of the real user."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis as redis_lib
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.security import throttle
from icbt.security.throttle import Backoff, DatabaseStore, RedisStore, delay_after, seconds_locked
from tests.conftest import PASSWORD

POLICY = Backoff(free=5, base=15, cap=300, window=3600)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (4, 0), (5, 15), (6, 30), (7, 60), (8, 120), (9, 240), (10, 300), (50, 300), (10**6, 300)],
)
def test_backoff_doubles_then_stops_at_the_cap(failures: int, seconds: float) -> None:
    assert delay_after(failures, POLICY) == seconds


def test_failures_are_forgotten_after_the_window() -> None:
    last = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert seconds_locked(9, last, last + dt.timedelta(seconds=100), POLICY) == 140
    assert seconds_locked(9, last, last + dt.timedelta(seconds=240), POLICY) == 0
    assert seconds_locked(30, last, last + dt.timedelta(seconds=3600), POLICY) == 0


def test_address_keys_group_ipv6_by_64_and_tolerate_garbage() -> None:
    assert throttle.address_key("2001:db8::1") == throttle.address_key("2001:db8::ffff") == "ip:2001:db8::/64"
    assert throttle.address_key("::ffff:192.0.2.7") == "ip:192.0.2.7"
    assert throttle.address_key("not an address") == throttle.address_key(None) == "ip:unknown"


def _fail(client, email: str):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"email": email, "password": "wrong-password-guess"})


@pytest.mark.parametrize("known", [True, False])
def test_sixth_failure_for_an_address_gets_a_429_known_or_not(client, factory, clock, known) -> None:
    email = factory.user().email if known else "nobody-here@example.org"
    statuses = [_fail(client, email).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = _fail(client, email)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 15
    html = response.get_data(as_text=True)
    assert "Too many attempts" in html and "please wait 1 minute" in html
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "auth.login_throttled"))
    clock.advance(seconds=16)
    assert _fail(client, email).status_code == 200  # the wait is over (and the next one is longer)
    assert _fail(client, email).status_code == 429
    assert 16 <= int(_fail(client, email).headers["Retry-After"]) <= 30


def test_locked_account_refuses_even_the_right_password_from_a_new_browser(app, factory, clock) -> None:
    user = factory.user()
    attacker = app.test_client()
    for _ in range(5):
        _fail(attacker, user.email)
    stranger = app.test_client()
    assert stranger.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 429
    clock.advance(minutes=6)  # the cap is 5 minutes: never locked out for long
    assert stranger.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_the_real_users_trusted_browser_is_not_locked_out_by_an_attacker(app, factory, clock) -> None:
    user = factory.user()
    mine = app.test_client()
    assert mine.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    mine.post("/auth/logout")  # the device cookie stays
    attacker = app.test_client()
    for _ in range(12):
        _fail(attacker, user.email)
    assert _fail(attacker, user.email).status_code == 429
    response = mine.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    # ...while the trusted browser's own guesses are still limited
    mine.post("/auth/logout")
    assert [_fail(mine, user.email).status_code for _ in range(6)][-1] == 429


def test_device_cookie_of_another_account_does_not_help(app, factory) -> None:
    alice, bob = factory.user(), factory.user()
    client = app.test_client()
    client.post("/auth/login", data={"email": alice.email, "password": PASSWORD})
    client.post("/auth/logout")
    assert [_fail(client, bob.email).status_code for _ in range(6)][-1] == 429


def test_a_success_clears_the_account_counter(client, factory) -> None:
    user = factory.user()
    for _ in range(4):
        _fail(client, user.email)
    client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    client.post("/auth/logout")
    fresh = client.application.test_client()  # a browser without the device cookie
    assert [_fail(fresh, user.email).status_code for _ in range(5)] == [200] * 5


def test_one_address_guessing_many_accounts_is_limited(client, factory) -> None:
    statuses = [_fail(client, f"guess{i}@example.org").status_code for i in range(21)]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429


def test_database_counters_are_atomic_upserts(app) -> None:
    store = DatabaseStore(db.session)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert [store.hit("acct:x", now, 3600) for _ in range(3)] == [1, 2, 3]
    assert store.get("acct:x").failures == 3
    assert store.hit("acct:x", now + dt.timedelta(hours=2), 3600) == 1  # window passed: restart
    store.reset("acct:x")
    assert store.get("acct:x") is None


@pytest.fixture
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/15"
    try:
        redis_lib.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis_lib.exceptions.ConnectionError as error:
        import os

        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable: {error}")
        pytest.skip(f"Redis not reachable: {error}")
    return url


def test_redis_store_is_shared_between_instances(redis_url: str) -> None:
    prefix = f"icbt-test-{uuid.uuid4().hex}:"
    first, second = RedisStore(redis_url, prefix), RedisStore(redis_url, prefix)  # e.g. two workers
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    try:
        assert first.hit("acct:y", now, 3600) == 1
        assert second.hit("acct:y", now, 3600) == 2
        assert first.get("acct:y").failures == 2
        assert first.get("acct:y").last_failure == now
        assert second.hit("acct:y", now + dt.timedelta(hours=2), 3600) == 1
        second.reset("acct:y")
        assert first.get("acct:y") is None
    finally:
        first.redis.delete(prefix + "acct:y")


def test_login_throttling_on_redis(client, factory, redis_url, monkeypatch) -> None:
    app = client.application
    monkeypatch.setitem(app.config, "THROTTLE_STORAGE_URL", redis_url)
    monkeypatch.setitem(app.config, "THROTTLE_KEY_PREFIX", f"icbt-test-{uuid.uuid4().hex}:")
    user = factory.user()
    assert [_fail(client, user.email).status_code for _ in range(6)] == [200] * 5 + [429]
    from icbt.security.models import LoginThrottle

    assert db.session.scalar(select(LoginThrottle)) is None  # nothing in the database
