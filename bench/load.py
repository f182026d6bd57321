"""(c) Load: simulated users at once against the real server on loopback, then a count in
the database of what they handed in: zero errors, nothing lost, nothing duplicated.

Each simulated user is a thread with its own session: it logs in, repeats actions of its
role (chosen by weight, with a think time between them) until the run's end, and logs out.
Every action that writes returns the ledger key of what it wrote; afterwards the ledger is
compared with ``COUNTERS``, one SQL count per key over the rows written during the run.

Bounded: each user stops at the deadline or after ``MAX_ACTIONS`` actions, every request
has a timeout, and the threads are joined with a timeout.

To add an action when a capability lands (e.g. handing in homework, writing feedback):
write a function ``(user) -> ledger key or None``, add an ``Action`` line to ``ACTIONS``,
and, if it writes, a ``COUNTERS`` line counting the rows it creates.
"""
from __future__ import annotations

import random
import re
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.client import BenchHTTPError, Client
from bench.databases import scratch_database
from bench.server import bench_server
from bench.world import World
from config import normalise_database_url

MAX_ACTIONS = 10_000  # per user: a bound even if the clock misbehaves
THINK_SECONDS = (0.2, 1.0)
ROLE_MIX = {"patient": 0.8, "therapist": 0.16, "admin": 0.04}  # of the simulated users
HOME = {"patient": "/me/", "therapist": "/therapist/", "admin": "/admin/"}


@dataclass
class SimulatedUser:
    role: str
    email: str
    client: Client
    rng: random.Random
    world: World
    participant_ids: list[int] = field(default_factory=list)

    def get_ok(self, path: str, must_contain: str | None = None) -> str:
        reply = self.client.get(path)
        if reply.status != 200:
            raise BenchHTTPError(f"GET {path} answered {reply.status}")
        if must_contain and must_contain not in reply.body:
            raise BenchHTTPError(f"GET {path}: expected text missing")
        return reply.body


# ------------------------------------------------------------------ actions (extend here)

def read_dashboard(user: SimulatedUser) -> str | None:
    user.get_ok("/me/", "Where you are")
    return None


def read_caseload(user: SimulatedUser) -> str | None:
    body = user.get_ok("/therapist/", "Your caseload")
    user.participant_ids = [int(n) for n in re.findall(r'href="/therapist/patients/(\d+)"', body)]
    return None


def open_patient(user: SimulatedUser) -> str | None:
    if not user.participant_ids:
        read_caseload(user)
    user.get_ok(f"/therapist/patients/{user.rng.choice(user.participant_ids)}")
    return "participant.view"  # each view writes one audit line


def read_trial_overview(user: SimulatedUser) -> str | None:
    user.get_ok("/admin/", "Participants by arm and stage")
    return None


@dataclass(frozen=True)
class Action:
    name: str
    role: str
    weight: int
    run: Callable[[SimulatedUser], str | None]


ACTIONS: list[Action] = [
    Action("patient reads dashboard", "patient", 10, read_dashboard),
    Action("therapist reads caseload", "therapist", 2, read_caseload),
    Action("therapist opens a patient", "therapist", 5, open_patient),
    Action("admin reads trial overview", "admin", 1, read_trial_overview),
]

# ledger key -> SQL counting the rows written during the run (ids above the watermark).
COUNTERS: dict[str, str] = {
    "auth.login": "SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND id > :watermark",
    "auth.logout": "SELECT count(*) FROM audit_events WHERE action = 'auth.logout' AND id > :watermark",
    "participant.view": "SELECT count(*) FROM audit_events WHERE action = 'participant.view' AND id > :watermark",
}
WATERMARK = "SELECT coalesce(max(id), 0) FROM audit_events"

# ------------------------------------------------------------------ the run

LATENCIES: defaultdict[str, list[float]] = defaultdict(list)


_LATENCY_LOCK = threading.Lock()


def observe(method: str, path: str, reply: object) -> None:
    """Every request's latency, by method and path (ids folded)."""
    with _LATENCY_LOCK:
        LATENCIES[f"{method} {re.sub(r'/[0-9]+', '/<id>', path)}"].append(reply.seconds)  # type: ignore[attr-defined]


@dataclass
class Outcome:
    ledger: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, action: str, key: str | None) -> None:
        with self.lock:
            self.actions[action] += 1
            if key:
                self.ledger[key] += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def simulate(user: SimulatedUser, deadline: float, start_delay: float, outcome: Outcome) -> None:
    time.sleep(start_delay)
    actions = [a for a in ACTIONS if a.role == user.role]
    try:
        user.client.log_in(user.email, user.world.password)
    except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the run
        outcome.error(f"{user.role} login: {error}")
        return
    outcome.add("log in", "auth.login")
    for _ in range(MAX_ACTIONS):
        if time.monotonic() >= deadline:
            break
        action = user.rng.choices(actions, weights=[a.weight for a in actions])[0]
        try:
            outcome.add(action.name, action.run(user))
        except Exception as error:  # noqa: BLE001
            outcome.error(f"{action.name}: {error}")
        pause = user.rng.uniform(*THINK_SECONDS)
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
    try:
        reply = user.client.log_out(HOME[user.role])
        if reply.status != 302:
            raise BenchHTTPError(f"logout answered {reply.status}")
        outcome.add("log out", "auth.logout")
    except Exception as error:  # noqa: BLE001
        outcome.error(f"{user.role} logout: {error}")


def make_users(world: World, port: int, n_users: int, seed: int) -> list[SimulatedUser]:
    counts = {role: round(n_users * share) for role, share in ROLE_MIX.items()}
    counts["patient"] += n_users - sum(counts.values())
    accounts = {
        "patient": world.patient_emails,
        "therapist": world.therapist_emails,
        "admin": [world.admin_email],
    }
    users = []
    rng = random.Random(seed)
    for role, n in counts.items():
        for i in range(n):
            email = accounts[role][i % len(accounts[role])]
            users.append(SimulatedUser(role, email, Client("127.0.0.1", port, observer=observe), random.Random(rng.random()), world))
    return users


def count_in_database(database_url: str, watermark: int) -> dict[str, int]:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            return {key: conn.execute(text(sql), {"watermark": watermark}).scalar_one() for key, sql in COUNTERS.items()}
    finally:
        engine.dispose()


def watermark(database_url: str) -> int:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(WATERMARK)).scalar_one())
    finally:
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_load(database_url: str, *, users: int, seconds: float, workers: int, seed: int = 2026) -> bool:
    LATENCIES.clear()
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="icbt-load-") as tmp:
        with bench_server(database_url, Path(tmp) / "instance", n_patients=200, workers=workers,
                          log_path=Path(tmp) / "server.log") as (server, world):
            mark = watermark(database_url)
            simulated = make_users(world, server.port, users, seed)
            started = time.monotonic()
            deadline = started + seconds
            threads = [
                threading.Thread(target=simulate, args=(user, deadline, i * 2.0 / users, outcome), daemon=True)
                for i, user in enumerate(simulated)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=max(1.0, deadline - time.monotonic()) + 60)
            elapsed = time.monotonic() - started
            alive = sum(thread.is_alive() for thread in threads)
            in_db = count_in_database(database_url, mark)
            server_log = server.log_tail(20)
    requests = sum(len(v) for v in LATENCIES.values())
    print(f"{users} users ({', '.join(f'{n} {r}' for r, n in Counter(u.role for u in simulated).items())}), "
          f"{elapsed:.0f} s: {requests} requests, {requests / elapsed:.0f} req/s, {len(outcome.errors)} errors"
          + (f", {alive} users still running (stopped waiting)" if alive else ""))
    print(f"  {'request':<28} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, values in sorted(LATENCIES.items()):
        print(f"  {kind:<28} {len(values):>6} {statistics.median(values) * 1000:>8.1f} "
              f"{percentile(values, 0.95) * 1000:>8.1f} {max(values) * 1000:>8.1f}")
    ok = not outcome.errors and not alive
    print(f"  {'written':<28} {'clients':>8} {'database':>9}")
    for key in COUNTERS:
        verdict = "ok" if outcome.ledger[key] == in_db[key] else (
            "LOST" if in_db[key] < outcome.ledger[key] else "DUPLICATED")
        ok = ok and verdict == "ok"
        print(f"  {key:<28} {outcome.ledger[key]:>8} {in_db[key]:>9}  {verdict}")
    for message in outcome.errors[:10]:
        print(f"  error: {message}")
    if outcome.errors and server_log:
        print("  server log (last lines):\n    " + server_log.replace("\n", "\n    "))
    return ok


def run(kinds: list[str], pg_url: str | None, *, users: int, seconds: float, workers: int) -> bool:
    print(f"\n== (c) load: {users} simulated users for {seconds:g} s, think time {THINK_SECONDS[0]}-{THINK_SECONDS[1]} s, "
          f"gunicorn {workers} sync workers ==")
    ok = True
    for kind in kinds:
        with scratch_database(kind, pg_url) as url:
            print(f"\n{kind}")
            if url is None:
                print("  skipped (PostgreSQL does not answer)")
                continue
            ok = run_load(url, users=users, seconds=seconds, workers=workers) and ok
    return ok
