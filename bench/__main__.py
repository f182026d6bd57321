"""``python -m bench [pages] [queries] [load]``: run the benchmarks and print their tables.

Options come from the command line (``--help``) or, for ``make bench``, the environment:
ICBT_BENCH_PG_URL (PostgreSQL server for the scratch databases), BENCH_SECONDS, BENCH_ROUNDS,
BENCH_WORKERS, BENCH_CONNECTIONS, BENCH_USERS, BENCH_LOAD_SECONDS, BENCH_DB (sqlite,postgres).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import bench  # noqa: F401  (paths)
from bench import load, queries, throughput
from bench.wrk import wrk_version


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load1, load5, _ = os.getloadavg()
        loadavg = f"load average {load1:.2f} (1 min), {load5:.2f} (5 min) at start"
    except OSError:
        loadavg = ""
    import sqlalchemy
    import sqlite3

    return (f"machine: {os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}, {wrk_version()}; {loadavg}")


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", choices=["pages", "queries", "load", []], default=[])
    parser.add_argument("--db", default=env("BENCH_DB", "sqlite,postgres"), help="sqlite,postgres")
    parser.add_argument("--pg-url", default=env("ICBT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--seconds", type=float, default=float(env("BENCH_SECONDS", "3")), help="per wrk run")
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")), help="(hello, page) pairs per page")
    parser.add_argument("--workers", type=int, default=int(env("BENCH_WORKERS", str((os.cpu_count() or 1) + 1))))
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "0")) or None,
                        help="wrk connections (default: 2 x workers)")
    parser.add_argument("--users", type=int, default=int(env("BENCH_USERS", "50")))
    parser.add_argument("--load-seconds", type=float, default=float(env("BENCH_LOAD_SECONDS", "60")))
    args = parser.parse_args(argv)
    parts = args.parts or ["queries", "pages", "load"]
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    print(machine())
    started = time.monotonic()
    ok = True
    if "queries" in parts:
        queries.run(kinds, args.pg_url)
    if "pages" in parts:
        throughput.run(kinds, args.pg_url, seconds=args.seconds, rounds=args.rounds, workers=args.workers,
                       connections=args.connections or 2 * args.workers)
    if "load" in parts:
        ok = load.run(kinds, args.pg_url, users=args.users, seconds=args.load_seconds, workers=args.workers) and ok
    print(f"\nbench finished in {time.monotonic() - started:.0f} s" + ("" if ok else " - the load run FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
