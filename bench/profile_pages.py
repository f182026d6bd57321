"""In-process cost of each page: ``python -m bench.profile_pages [--db sqlite] [-n 200] [--top 25] [--profile PAGE]``.

Repeatable on a loaded machine (no HTTP, no workers): the app with the test configuration on a
fresh database seeded with the bench world (200 patients), the Flask test client logged in as
each role. Per page: mean and best-of-rounds time per request over N requests, SQL statements
per request, and the ratio to the logged-in /hello route (the same hooks: session, user and
security-session lookup, no template, no query of its own). ``--profile`` prints a cProfile
top list (cumulative time) for the pages whose names contain the given text.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import bench  # noqa: F401  (paths)
from bench.databases import scratch_database
from bench.pages import PAGES, Page
from bench.queries import logged_in_clients, make_app
from bench.statements import count_statements
from bench.world import build_world

HELLO_PAGES = [Page("hello (anonymous)", "anonymous", "/hello"), Page("hello (patient)", "patient", "/hello"),
               Page("hello (therapist)", "therapist", "/hello"),
               Page("hello logged in (patient)", "patient", "/hello/logged-in"),
               Page("hello audited (patient)", "patient", "/hello/audited")]


def run(kind: str, pg_url: str | None, n: int, rounds: int, n_patients: int, profile: list[str], top: int) -> None:
    from bench.routes import add_reference_routes
    from icbt.extensions import db

    with scratch_database(kind, pg_url) as url, tempfile.TemporaryDirectory(prefix="icbt-prof-") as tmp:
        if url is None:
            print(f"{kind}: skipped")
            return
        app = make_app(url, Path(tmp))
        add_reference_routes(app)
        try:
            with app.app_context():
                world = build_world(db.session, n_patients)
                db.session.commit()
            clients = logged_in_clients(app, world)
            engine = app.extensions["icbt.db"]
            print(f"\n{kind}: {n_patients} patients; {n} requests x {rounds} rounds per page")
            print(f"{'page':<26} {'mean ms':>8} {'best ms':>8} {'stmts':>6} {'x hello':>8}")
            base = None
            for page in [*HELLO_PAGES, *PAGES]:
                client, path = clients[page.role], world.format(page.path)
                first = client.get(path)
                if first.status_code != 200:
                    print(f"{page.name:<26} answered {first.status_code}")
                    continue
                with count_statements(engine) as statements:
                    client.get(path)
                means = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    for _ in range(n):
                        client.get(path)
                    means.append((time.perf_counter() - started) / n * 1000)
                mean, best = sum(means) / len(means), min(means)
                if page.name == "hello (patient)":
                    base = best
                ratio = f"{best / base:8.1f}" if base else f"{'':>8}"
                print(f"{page.name:<26} {mean:>8.2f} {best:>8.2f} {len(statements):>6} {ratio}")
            for page in [*HELLO_PAGES, *PAGES]:
                if not any(p.lower() in page.name.lower() for p in profile):
                    continue
                client, path = clients[page.role], world.format(page.path)
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(n):
                    client.get(path)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
                print(f"\n--- profile: {page.name} ({n} requests) ---")
                print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
                print(f"\n--- profile by own time: {page.name} ---")
                print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])
        finally:
            app.extensions["icbt.db"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_pages", description=__doc__)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("-n", type=int, default=100, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--profile", action="append", default=[], help="profile pages whose name contains this")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    for kind in args.db.split(","):
        run(kind.strip(), args.pg_url, args.n, args.rounds, args.patients, args.profile, args.top)


if __name__ == "__main__":
    main()
