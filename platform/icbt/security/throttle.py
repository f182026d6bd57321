"""Brute-force protection: failed attempts counted per key with exponential backoff.

Keys (never the e-mail itself, only a hash of it):

``acct:<hash of e-mail>``  every password failure for an address, known or not (so the
                           answer never tells whether an account exists)
``ip:<address>``           every password failure from a client address (IPv6: the /64)
``dev:<nonce>``            a browser that has completed a login to that account before
                           (a signed "device cookie", OWASP's device-cookie pattern)
``2fa:<user id>``          wrong second-factor codes (only reachable with the password)

How a real user is protected from being locked out by someone else: an attempt that
comes with a valid device cookie for the account it names is counted against that device
only, not against the account or the address. An attacker without the password can
therefore lock the account only for browsers that never logged in to it, and only for at
most ``cap`` seconds after their last failure (5 minutes for accounts). A successful
password check clears the account's and the device's counters; address counters are not
cleared by a success (one's own account must not reset the count for guessing others').
Counters forget failures after ``window`` seconds without a new failure.

Storage is the database (``login_throttles``, shared by every worker process) or Redis
when ``THROTTLE_STORAGE_URL`` is a ``redis://`` URL.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import math
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.orm import Session

from icbt.db import UTCDateTime
from icbt.security.models import LoginThrottle


@dataclasses.dataclass(frozen=True)
class Backoff:
    free: int  # failures allowed before any delay
    base: float  # seconds of delay at the first failure past ``free``
    cap: float  # longest delay, seconds
    window: float  # failures are forgotten after this long without a new one


DEFAULT_POLICIES = {
    "acct": Backoff(free=5, base=15, cap=300, window=3600),
    "dev": Backoff(free=5, base=15, cap=300, window=3600),
    "ip": Backoff(free=20, base=10, cap=900, window=3600),
    "2fa": Backoff(free=5, base=30, cap=900, window=3600),
}


def delay_after(failures: int, policy: Backoff) -> float:
    """Seconds to wait after the ``failures``-th failure: 0 while within ``free``, then
    ``base`` doubling with each further failure, never more than ``cap``."""
    if failures < policy.free:
        return 0.0
    exponent = failures - policy.free
    if exponent > 60:
        return float(policy.cap)
    return float(min(policy.cap, policy.base * 2**exponent))


def seconds_locked(failures: int, last_failure: dt.datetime, now: dt.datetime, policy: Backoff) -> int:
    """Whole seconds until another attempt is allowed (0: allowed now)."""
    if (now - last_failure).total_seconds() >= policy.window:
        return 0
    until = last_failure + dt.timedelta(seconds=delay_after(failures, policy))
    remaining = (until - now).total_seconds()
    return max(0, math.ceil(remaining))


def email_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:40]
    return f"acct:{digest}"


def address_key(address: str | None) -> str:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "ip:unknown"
    if ip.version == 6 and not ip.ipv4_mapped:
        return "ip:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return f"ip:{ip.ipv4_mapped or ip}" if ip.version == 6 else f"ip:{ip}"


def policy_for(key: str) -> Backoff:
    kind = key.split(":", 1)[0]
    policies = current_app.config.get("THROTTLE_POLICIES") or {}
    return policies.get(kind) or DEFAULT_POLICIES[kind]


@dataclasses.dataclass
class Count:
    failures: int
    last_failure: dt.datetime


class ThrottleStore(Protocol):
    def get(self, key: str) -> Count | None: ...
    def hit(self, key: str, now: dt.datetime, window: float) -> int: ...
    def reset(self, key: str) -> None: ...


class DatabaseStore:
    """Counters in ``login_throttles``; the increment is one atomic upsert, so concurrent
    failures from several processes are all counted. Part of the request's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> Count | None:
        # populate_existing: the upsert in hit() bypasses the identity map.
        row = self.session.scalar(
            select(LoginThrottle).where(LoginThrottle.key == key).execution_options(populate_existing=True)
        )
        return Count(row.failures, row.last_failure_at) if row else None

    def hit(self, key: str, now: dt.datetime, window: float) -> int:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stale_before = now - dt.timedelta(seconds=window)
        table = LoginThrottle.__table__
        stmt = insert(table).values(key=key, failures=1, first_failure_at=now, last_failure_at=now)
        stale = table.c.last_failure_at < bindparam("stale_before", stale_before, type_=UTCDateTime())
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "first_failure_at": case((stale, stmt.excluded.first_failure_at), else_=table.c.first_failure_at),
                "last_failure_at": stmt.excluded.last_failure_at,
            },
        ).returning(table.c.failures)
        return int(self.session.execute(stmt).scalar_one())

    def reset(self, key: str) -> None:
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    def prune(self, before: dt.datetime) -> int:
        """Remove counters whose last failure is older than ``before`` (housekeeping)."""
        result = self.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < before))
        return result.rowcount or 0


_HIT_SCRIPT = """
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local n
if last < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'n', 1)
  n = 1
else
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
end
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n
"""


class RedisStore:
    """Counters in Redis hashes (``<prefix><key>`` -> n, last); atomic through a script."""

    def __init__(self, url: str, prefix: str = "icbt:throttle:") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._hit = self.redis.register_script(_HIT_SCRIPT)

    def get(self, key: str) -> Count | None:
        data = self.redis.hgetall(self.prefix + key)
        if not data:
            return None
        last = dt.datetime.fromtimestamp(float(data[b"last"]), tz=dt.timezone.utc)
        return Count(int(data[b"n"]), last)

    def hit(self, key: str, now: dt.datetime, window: float) -> int:
        ts = now.timestamp()
        return int(self._hit(keys=[self.prefix + key], args=[repr(ts), repr(ts - window), int(window) + 60]))

    def reset(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


def store(session: Session) -> ThrottleStore:
    url = current_app.config.get("THROTTLE_STORAGE_URL")
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        stores = current_app.extensions.setdefault("icbt.throttle_redis", {})
        prefix = current_app.config.get("THROTTLE_KEY_PREFIX", "icbt:throttle:")
        if (url, prefix) not in stores:
            stores[(url, prefix)] = RedisStore(url, prefix)
        return stores[(url, prefix)]
    return DatabaseStore(session)


def retry_after(session: Session, keys: list[str], now: dt.datetime) -> int:
    """Seconds until every key allows another attempt (0: go ahead)."""
    s = store(session)
    longest = 0
    for key in keys:
        count = s.get(key)
        if count is not None:
            longest = max(longest, seconds_locked(count.failures, count.last_failure, now, policy_for(key)))
    return longest


def register_failure(session: Session, keys: list[str], now: dt.datetime) -> None:
    s = store(session)
    for key in keys:
        s.hit(key, now, policy_for(key).window)


def clear(session: Session, keys: list[str]) -> None:
    s = store(session)
    for key in keys:
        s.reset(key)
