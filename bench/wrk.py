"""Running wrk (Debian's package) with bench/wrk_report.lua and reading its figures."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.client import USER_AGENT

SCRIPT = Path(__file__).with_name("wrk_report.lua")
LINE = re.compile(r"^BENCH (.*)$", re.M)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    bad_status: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = (result.stdout + result.stderr).splitlines()[0]
    match = re.search(r"wrk\s+\S*?(\d+\.\d+\.\d+)", first)
    return f"wrk {match.group(1)}" if match else first.strip()


def run_wrk(url: str, *, seconds: float, connections: int, threads: int = 1, cookie: str = "") -> WrkResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    env = {**os.environ, "BENCH_COOKIE": cookie, "BENCH_UA": USER_AGENT}
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(SCRIPT), url]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    match = LINE.search(result.stdout)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    fields = dict(item.split("=") for item in match.group(1).split())
    return WrkResult(
        requests=int(fields["requests"]), seconds=int(fields["duration_us"]) / 1e6,
        p50_ms=int(fields["p50_us"]) / 1000, p95_ms=int(fields["p95_us"]) / 1000,
        p99_ms=int(fields["p99_us"]) / 1000, max_ms=int(fields["max_us"]) / 1000,
        bad_status=int(fields["non2xx3xx"]), socket_errors=int(fields["socket_errors"]),
    )
