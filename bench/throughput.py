"""(a) Pages: requests per second and p50/p95 latency under gunicorn, each page beside the
app's bare /hello route measured just before it in the same run.

The figure to watch is ``share``: the page's throughput as a fraction of the bare route's
(target >= 0.5). wrk holds ``connections`` open (closed loop, no think time), so latency
includes the wait for a free worker.
"""
from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.client import Client
from bench.databases import scratch_database
from bench.pages import HELLO, PAGES, REFERENCES, Page
from bench.server import bench_server
from bench.world import World
from bench.wrk import WrkResult, run_wrk
from tests.liveserver import ROOT, LiveServer

N_PATIENTS = 200


def generator_ceiling(seconds: float, connections: int) -> WrkResult:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.set_inheritable(True)
    proc = subprocess.Popen([sys.executable, "-m", "bench.ceiling", str(sock.fileno())], cwd=ROOT,
                            pass_fds=(sock.fileno(),))
    try:
        port = sock.getsockname()[1]
        return run_wrk(f"http://127.0.0.1:{port}/", seconds=seconds, connections=connections)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        sock.close()


def cookies_by_role(server: LiveServer, world: World) -> dict[str, str]:
    cookies = {"anonymous": ""}
    for role in ("patient", "therapist", "admin"):
        client = Client("127.0.0.1", server.port)
        client.log_in(world.email_for(role), world.password)
        cookies[role] = client.cookie_header()
    return cookies


def check_page(server: LiveServer, world: World, page: Page, cookie: str) -> None:
    """The page answers 200 with this cookie (not a redirect to the login page)."""
    client = Client("127.0.0.1", server.port)
    if cookie:
        for part in cookie.split("; "):
            key, _, value = part.partition("=")
            client.cookies[key] = value
    reply = client.get(world.format(page.path))
    if reply.status != 200:
        raise RuntimeError(f"bench: {page.name} answered {reply.status} for {page.role}")


def combine(results: list[WrkResult]) -> WrkResult:
    """Several short runs as one: requests and time summed, latencies the median run's."""
    def median(values: list[float]) -> float:
        return statistics.median(values)

    return WrkResult(
        requests=sum(r.requests for r in results), seconds=sum(r.seconds for r in results),
        p50_ms=median([r.p50_ms for r in results]), p95_ms=median([r.p95_ms for r in results]),
        p99_ms=median([r.p99_ms for r in results]), max_ms=max(r.max_ms for r in results),
        bad_status=sum(r.bad_status for r in results), socket_errors=sum(r.socket_errors for r in results),
    )


def measure_pages(server: LiveServer, world: World, *, seconds: float, connections: int, rounds: int = 3,
                  pages: list[Page] = PAGES) -> list[tuple[Page, WrkResult, WrkResult]]:
    """Each page in ``rounds`` alternations of (hello, page), ``seconds`` each: a machine
    shared with other work drifts, and alternating keeps the two under the same conditions."""
    cookies = cookies_by_role(server, world)
    rows = []
    for page in pages:
        url = server.url(world.format(page.path))
        check_page(server, world, page, cookies[page.role])
        run_wrk(url, seconds=1, connections=connections, cookie=cookies[page.role])  # warm every worker
        hellos, results = [], []
        for _ in range(rounds):
            hellos.append(run_wrk(server.url(HELLO.path), seconds=seconds, connections=connections))
            results.append(run_wrk(url, seconds=seconds, connections=connections, cookie=cookies[page.role]))
        check_page(server, world, page, cookies[page.role])  # the session held to the end
        rows.append((page, combine(results), combine(hellos)))
    return rows


def print_rows(title: str, rows: list[tuple[Page, WrkResult, WrkResult]]) -> None:
    """``share``: the page's req/s over the bare /hello's measured beside it (target >= 0.5).
    ``of floor``: the page's req/s over the audited floor's (logged in + one audit line
    committed: what every page showing health data must do), when that row was measured."""
    floor = next((result.rps for page, result, _ in rows if page.path == "/hello/audited"), 0.0)
    print(f"\n{title}")
    print(f"{'page':<26} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'hello req/s':>12} {'share':>6} "
          f"{'of floor':>8} {'errors':>7}")
    for page, result, hello in rows:
        share = result.rps / hello.rps if hello.rps else 0.0
        of_floor = f"{result.rps / floor:>8.2f}" if floor else f"{'-':>8}"
        errors = result.bad_status + result.socket_errors + hello.bad_status + hello.socket_errors
        flag = "" if share >= 0.5 else "  < 0.5"
        print(f"{page.name:<26} {result.rps:>8.0f} {result.p50_ms:>8.1f} {result.p95_ms:>8.1f} "
              f"{hello.rps:>12.0f} {share:>6.2f} {of_floor} {errors:>7}{flag}")


def run(kinds: list[str], pg_url: str | None, *, seconds: float, workers: int, connections: int,
        rounds: int = 3) -> None:
    print(f"\n== (a) pages under gunicorn ({workers} sync workers), wrk 1 thread x {connections} connections; "
          f"each page {rounds} x {seconds:g} s, alternating with /hello; caseload {N_PATIENTS} patients ==")
    ceiling = generator_ceiling(seconds, connections)
    print(f"load generator ceiling (wrk vs a fixed-response asyncio server): {ceiling.rps:,.0f} req/s, "
          f"p50 {ceiling.p50_ms:.2f} ms")
    for kind in kinds:
        with scratch_database(kind, pg_url) as url, tempfile.TemporaryDirectory(prefix="icbt-bench-") as tmp:
            if url is None:
                print(f"\n{kind}: skipped (PostgreSQL does not answer)")
                continue
            log = Path(tmp) / "server.log"
            with bench_server(url, Path(tmp) / "instance", n_patients=N_PATIENTS, workers=workers,
                              log_path=log) as (server, world):
                rows = measure_pages(server, world, seconds=seconds, connections=connections, rounds=rounds,
                                     pages=[*PAGES, *REFERENCES])
            print_rows(kind, rows)
