"""Benchmark of the analysis report job and its exports on synthetic trials.

    /work/main/.venv/bin/python bench/analysis_bench.py [--sizes 1000,10000,100000] [--no-postgres]

For each size a scratch database is filled with a synthetic trial (users, participants and
submitted administrations with every item answer, scored by the platform's own scoring code),
then the report job (``icbt.reports.job.execute_run``: load, analyse, figures, exports, report)
runs in a fresh child process, which reports its wall time per step and its peak memory
(``resource.getrusage`` max RSS of the whole process, and its RSS before the job started).
Databases: a SQLite file, and PostgreSQL when reachable (``BENCH_PG_URL``, default
postgresql://postgres@127.0.0.1:5432/test; a scratch database is created and dropped).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

CHUNK = 2000  # participants per insert batch
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)

# (instrument, timepoint, arms, day offset from T0, probability of being answered)
PLAN = (
    ("gad-7", "screening", ("treatment", "waitlist"), -21, 1.0),
    ("phq-9", "screening", ("treatment", "waitlist"), -21, 1.0),
    ("core-om", "pre", ("treatment", "waitlist"), -5, 0.97),
    ("expected-alliance", "pre", ("treatment",), -5, 0.95),
    ("wai-s", "week3", ("treatment",), 20, 0.85),
    ("core-om", "post", ("treatment", "waitlist"), 71, 0.80),
)


def mb(kib: float) -> str:
    return f"{kib / 1024:.0f} MB"


# ---------------------------------------------------------------- synthetic data

def _answers(instrument: Any, level: float, rng: random.Random) -> dict[int, int]:
    out = {}
    for item in instrument.items:
        scored = (0 if rng.random() < 0.9 else 1) if item.risk else round(level + rng.gauss(0, 0.7))
        scored = max(item.minimum, min(item.maximum, scored))
        out[item.number] = item.minimum + item.maximum - scored if item.reversed else scored
    return out


class Writer:
    """Bulk rows into SQLite (executemany) or PostgreSQL (COPY) through the DBAPI connection."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()

    def ts(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        if self.dialect == "sqlite":
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value.isoformat()

    def boolean(self, value: bool) -> Any:
        return (1 if value else 0) if self.dialect == "sqlite" else value

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            if not self.raw.driver_connection.in_transaction:
                cursor.execute("BEGIN")  # the platform's connections are in autocommit mode
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.close()

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        if self.dialect == "postgresql":
            cursor = self.raw.cursor()
            for table in ("users", "participants", "administrations", "administration_answers", "trials"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.close()
            self.raw.commit()
        self.raw.close()


def fill(app: Any, n: int, seed: int = 1) -> dict[str, int]:
    """Insert a trial of ``n`` randomised participants (half per arm). Returns row counts."""
    from icbt.measures.instruments import get_instrument
    from icbt.measures.scoring import score_answers

    rng = random.Random(seed)
    with app.app_context():
        instruments = {i: get_instrument(i) for i, *_ in PLAN}
        w = Writer(app.extensions["icbt.db"])
        now = w.ts(dt.datetime.now(dt.timezone.utc))
        w.insert("trials", ("id", "slug", "name", "timezone", "weeks", "module_cap", "open_for_registration",
                            "settings", "created_at"),
                 [(1, "bench", "Benchmark trial", "Europe/Stockholm", 10, 10, w.boolean(False), "{}", now)])
        counts = {"participants": 0, "administrations": 0, "answers": 0}
        adm_id = answer_id = 0
        for start in range(0, n, CHUNK):
            users, participants, adms, answers = [], [], [], []
            for i in range(start, min(n, start + CHUNK)):
                pid = i + 1
                arm = "treatment" if i % 2 == 0 else "waitlist"
                users.append((pid, f"bench{pid}@example.invalid", f"Bench Person {pid}", "patient", "x",
                              w.boolean(True), uuid.uuid4().hex, now))
                participants.append((pid, 1, pid, f"B{pid:07d}", arm, "completed", "2026-01-05",
                                     w.ts(T0 - dt.timedelta(days=7)), now))
                severity = rng.uniform(1.0, 3.0)
                alliance = rng.uniform(3.0, 6.5)
                gain = 0.3 * (alliance - 3) + rng.uniform(0, 0.5) if arm == "treatment" else rng.uniform(-0.2, 0.3)
                levels = {"gad-7": severity * 0.7, "phq-9": severity * 0.6, "expected-alliance": rng.uniform(3, 6.5),
                          "wai-s": alliance}
                for instrument_id, timepoint, arms, day, p_answer in PLAN:
                    if arm not in arms:
                        continue
                    inst = instruments[instrument_id]
                    adm_id += 1
                    opens = T0 + dt.timedelta(days=day)
                    answered = rng.random() < p_answer
                    scores = None
                    if answered:
                        if instrument_id == "core-om":
                            level = severity if timepoint == "pre" else max(0.1, severity - gain)
                        else:
                            level = levels[instrument_id]
                        raw = _answers(inst, level, rng)
                        scores = json.dumps(score_answers(inst, raw).as_json())
                        for number, value in raw.items():
                            answer_id += 1
                            item = inst.item(number)
                            answers.append((answer_id, adm_id, number, value, item.minimum, item.maximum))
                    adms.append((adm_id, pid, instrument_id, inst.version, timepoint, w.ts(opens),
                                 w.ts(opens + dt.timedelta(days=7)), "submitted" if answered else "missed",
                                 w.ts(opens + dt.timedelta(days=1)) if answered else None, scores, "{}", 0, now))
            w.insert("users", ("id", "email", "display_name", "role", "password_hash", "active", "session_token",
                               "created_at"), users)
            w.insert("participants", ("id", "trial_id", "user_id", "code", "arm", "status", "start_date",
                                      "randomised_at", "created_at"), participants)
            w.insert("administrations", ("id", "participant_id", "instrument_id", "instrument_version", "timepoint",
                                         "opens_at", "closes_at", "status", "submitted_at", "scores", "draft",
                                         "revision", "created_at"), adms)
            w.insert("administration_answers", ("id", "administration_id", "item_number", "value", "scale_min",
                                                "scale_max"), answers)
            w.commit()
            counts["participants"] += len(participants)
            counts["administrations"] += len(adms)
            counts["answers"] += len(answers)
        w.close()
        if app.extensions["icbt.db"].dialect.name == "sqlite":
            with app.extensions["icbt.db"].connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with app.extensions["icbt.db"].connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    return counts


# ---------------------------------------------------------------- the job, in a child process

def child(database_url: str, instance: str, tracemalloc_on: bool) -> None:
    """Run one report job; print a JSON line with timings and memory."""
    from config import TestConfig
    from icbt import create_app

    config = TestConfig(database_url=database_url, instance_path=instance)
    app = create_app(config)
    with app.app_context():
        from icbt.extensions import db
        from icbt.reports import job
        from icbt.reports.models import ReportRun

        run = ReportRun(trial_id=1, status="queued", parameters={}, current_step="queued")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        timings: dict[str, float] = {}
        for name, fn in list(job.STEP_FUNCTIONS.items()):
            def timed(ctx: Any, _fn: Any = fn, _name: str = name) -> None:
                t = time.perf_counter()
                _fn(ctx)
                timings[_name] = time.perf_counter() - t
            job.STEP_FUNCTIONS[name] = timed
        import icbt.reports.exports  # noqa: F401  (imported before measuring: not the job's own memory)
        import icbt.reports.figures  # noqa: F401
        import icbt.reports.loader  # noqa: F401
        import icbt.reports.rendering  # noqa: F401

        if tracemalloc_on:
            import tracemalloc

            tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        status = job.execute_run(run_id)
        total = time.perf_counter() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        folder = job.run_dir(run_id)
        zip_path = folder / "export.zip"
        with zipfile.ZipFile(zip_path) as archive:
            members = {i.filename: i.file_size for i in archive.infolist()}
        out = {"status": status, "total_s": total, "steps_s": timings, "rss_before_kib": rss_before,
               "rss_peak_kib": rss_peak, "zip_bytes": zip_path.stat().st_size, "members": members,
               "error": db.session.get(ReportRun, run_id).error_message}
        if tracemalloc_on:
            import tracemalloc

            out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        app.extensions["icbt.db"].dispose()
    print("BENCH-RESULT " + json.dumps(out))


def run_child(database_url: str, instance: Path, tracemalloc_on: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", database_url, str(instance)]
    if tracemalloc_on:
        cmd.append("--tracemalloc")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    raise RuntimeError(f"child failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


# ---------------------------------------------------------------- databases

def pg_scratch(base_url: str) -> Iterator[str] | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from config import normalise_database_url

    url = make_url(normalise_database_url(base_url))
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001
        print(f"PostgreSQL not reachable ({error.__class__.__name__}); skipped.")
        return None

    def gen() -> Iterator[str]:
        name = f"icbt_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return gen()


def bench_one(database_url: str, n: int, workdir: Path, tracemalloc_on: bool) -> None:
    from config import TestConfig
    from icbt import create_app, migrate

    instance = workdir / f"instance-{n}-{uuid.uuid4().hex[:6]}"
    app = create_app(TestConfig(database_url=database_url, instance_path=instance))
    migrate.upgrade(app)
    t = time.perf_counter()
    counts = fill(app, n)
    fill_s = time.perf_counter() - t
    app.extensions["icbt.db"].dispose()
    db_kind = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    size = ""
    if db_kind == "SQLite":
        size = f", file {Path(database_url.removeprefix('sqlite:///')).stat().st_size / 1e6:.0f} MB"
    print(f"\n== {db_kind}, {n:,} participants: {counts['administrations']:,} administrations, "
          f"{counts['answers']:,} answers (inserted in {fill_s:.1f} s{size})")
    result = run_child(database_url, instance, tracemalloc_on=False)
    if result["status"] != "done":
        print(f"   job {result['status']}: {result['error']}")
        return
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result["steps_s"].items())
    print(f"   report job: {result['total_s']:.2f} s ({steps})")
    print(f"   peak memory (max RSS of the job process): {mb(result['rss_peak_kib'])} "
          f"(before the job: {mb(result['rss_before_kib'])})")
    members = result["members"]
    print(f"   export: zip {result['zip_bytes'] / 1e6:.1f} MB; uncompressed "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in members.items())
          + f"; written in {result['steps_s'].get('exports', 0):.2f} s")
    if tracemalloc_on:
        traced = run_child(database_url, instance, tracemalloc_on=True)
        print(f"   tracemalloc peak (Python allocations of the job itself): "
              f"{traced['tracemalloc_peak_bytes'] / 1e6:.0f} MB")
    shutil.rmtree(instance, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true", help="Also run each job under tracemalloc (slower).")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], tracemalloc_on=args.tracemalloc)
        return
    import warnings

    warnings.simplefilter("ignore")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"Analysis report benchmark; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="icbt-bench-") as tmp:
        workdir = Path(tmp)
        if not args.no_sqlite:
            for n in sizes:
                path = workdir / f"bench-{n}.sqlite3"
                bench_one(f"sqlite:///{path}", n, workdir, args.tracemalloc)
                path.unlink(missing_ok=True)
        if not args.no_postgres:
            base = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
            for n in sizes:
                scratch = pg_scratch(base)
                if scratch is None:
                    break
                for url in scratch:
                    bench_one(url, n, workdir, args.tracemalloc)


if __name__ == "__main__":
    main()
