"""(c) Load: simulated users at once against the real server on loopback, then a count in
the database of what they handed in: zero errors, nothing lost, nothing duplicated.

Each simulated user is a thread with its own session: it logs in, repeats actions of its
role (chosen by weight, with a think time between them) until the run's end, and logs out.
Every action that writes returns the ledger key of what it wrote; afterwards the ledger is
compared with ``COUNTERS``, one SQL count per key over the rows written during the run.

Bounded: each user stops at the deadline or after ``MAX_ACTIONS`` actions, every request
has a timeout, and the threads are joined with a timeout.

Patients read their dashboard and this week's module, write to their therapist and hand in
homework; therapists read the caseload, open patients and write feedback; admins read the
trial overview. Every write is sent twice with the same key (a double click): the ledger
counts it once, and the database must hold it once.

To add an action: write a function ``(user) -> ledger key or None``, add an ``Action`` line
to ``ACTIONS``, and, if it writes, a ``COUNTERS`` line counting the rows of that kind.
"""
from __future__ import annotations

import random
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.client import CSRF, BenchHTTPError, Client
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


def _this_weeks_module(user: SimulatedUser) -> int | None:
    found = re.search(r'href="/me/modules/(\d+)"', user.get_ok("/me/", "Where you are"))
    return int(found.group(1)) if found else None


def read_module(user: SimulatedUser) -> str | None:
    """Open this week's module (a redirect to its first page), as from the dashboard."""
    item = _this_weeks_module(user)
    if item is not None:
        reply = user.client.get(f"/me/modules/{item}")
        if reply.status != 302:
            raise BenchHTTPError(f"GET /me/modules/{item} answered {reply.status}")
        user.get_ok(urllib.parse.urlsplit(reply.headers["location"]).path)
    return None


def send_message(user: SimulatedUser) -> str | None:
    """A message to the therapist, sent twice with the same key (a double click): one kept."""
    page = user.get_ok("/me/messages")
    csrf = CSRF.search(page)
    key = uuid.uuid4().hex
    form = {"body": f"A question from the load test {key[:8]}", "idempotency_key": key, "action": "send",
            "csrf_token": csrf.group(1) if csrf else ""}
    for _ in range(2):
        reply = user.client.request("POST", "/me/messages", form)
        if reply.status != 302:
            raise BenchHTTPError(f"POST /me/messages answered {reply.status}")
    return "message.patient"


def _fill(form_html: str, rng: random.Random) -> dict[str, str]:
    """Answers for every field of a worksheet form, as a patient would type them."""
    answers: dict[str, str] = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', form_html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            answers[name.group(1)] = value.group(1) if value else ""
    for name in re.findall(r'<textarea [^>]*name="([^"]+)"', form_html):
        answers[name] = "Noticed the worry, wrote it down, went on with the walk."
    for tag in re.findall(r'<input type="text"[^>]*>', form_html):
        name = re.search(r'name="([^"]+)"', tag).group(1)  # type: ignore[union-attr]
        limit = re.search(r'maxlength="(\d+)"', tag)
        text_answer = "At home, in the evening"[: int(limit.group(1)) if limit else None]
        answers[name] = "2" if "inputmode=" in tag else text_answer
    for name, value in re.findall(r'<input type="radio" [^>]*name="([^"]+)" value="([^"]+)"', form_html):
        answers.setdefault(name, value)
    for name, options in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form_html, re.S):
        values = [v for v in re.findall(r'<option value="([^"]*)"', options) if v]
        if values:
            answers[name] = rng.choice(values)
    return answers


def hand_in_homework(user: SimulatedUser) -> str | None:
    """This week's homework filled in and handed in twice with the same key (a double
    click): one hand-in kept. Homework already handed in is only read."""
    item = _this_weeks_module(user)
    if item is None:
        return None
    page = user.get_ok(f"/me/modules/{item}/pages/1")
    found = re.search(rf'href="(/me/modules/{item}/worksheets/[\w-]+)"', page)
    if not found:
        return None
    path = found.group(1)
    sheet = user.get_ok(path)
    form = re.search(r'<form method="post" id="worksheet-form".*?</form>', sheet, re.S)
    if form is None:  # handed in before
        return None
    answers = {**_fill(form.group(0), user.rng), "action": "submit"}
    for _ in range(2):
        reply = user.client.request("POST", path, answers)
        if reply.status != 302:
            raise BenchHTTPError(f"POST {path} answered {reply.status}: "
                                 + "; ".join(re.findall(r'role="alert"[^>]*>([^<]+)<', reply.body))[:300])
    return "homework.handed_in"


def write_feedback(user: SimulatedUser) -> str | None:
    """A message to one of the caseload's patients, sent twice with one key: one kept."""
    if not user.participant_ids:
        read_caseload(user)
    url = f"/therapist/patients/{user.rng.choice(user.participant_ids)}/messages"
    page = user.get_ok(url)
    csrf = CSRF.search(page)
    key = uuid.uuid4().hex
    form = {"body": f"Thank you for your homework this week ({key[:8]}).", "idempotency_key": key,
            "action": "send", "csrf_token": csrf.group(1) if csrf else ""}
    for _ in range(2):
        reply = user.client.request("POST", url, form)
        if reply.status != 302:
            raise BenchHTTPError(f"POST {url} answered {reply.status}")
    return "message.therapist"


@dataclass(frozen=True)
class Action:
    name: str
    role: str
    weight: int
    run: Callable[[SimulatedUser], str | None]


ACTIONS: list[Action] = [
    Action("patient reads dashboard", "patient", 10, read_dashboard),
    Action("patient reads this week's module", "patient", 4, read_module),
    Action("patient writes to the therapist", "patient", 1, send_message),
    Action("patient hands in homework", "patient", 1, hand_in_homework),
    Action("therapist reads caseload", "therapist", 2, read_caseload),
    Action("therapist opens a patient", "therapist", 5, open_patient),
    Action("therapist writes feedback", "therapist", 2, write_feedback),
    Action("admin reads trial overview", "admin", 1, read_trial_overview),
]

# ledger key -> SQL counting such rows; the run's rows are the count after minus before.
COUNTERS: dict[str, str] = {
    "auth.login": "SELECT count(*) FROM audit_events WHERE action = 'auth.login'",
    "auth.logout": "SELECT count(*) FROM audit_events WHERE action = 'auth.logout'",
    "participant.view": "SELECT count(*) FROM audit_events WHERE action = 'participant.view'",
    "message.patient": "SELECT count(*) FROM messages WHERE sender_role = 'patient' AND kind = 'message'",
    "message.therapist": "SELECT count(*) FROM messages WHERE sender_role = 'therapist'",
    "homework.handed_in": "SELECT count(*) FROM homework WHERE submitted_at IS NOT NULL",
}

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


def count_in_database(database_url: str) -> dict[str, int]:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            return {key: int(conn.execute(text(sql)).scalar_one()) for key, sql in COUNTERS.items()}
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
            before = count_in_database(database_url)
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
            after = count_in_database(database_url)
            in_db = {key: after[key] - before[key] for key in COUNTERS}
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
