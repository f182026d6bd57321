"""The real server, started as a subprocess for the browser journeys and the benchmarks.

``prepare_instance`` migrates and seeds a fresh database with the real CLI
(``flask --app wsgi db upgrade`` and ``demo``); ``LiveServer`` runs gunicorn on it, bound to
a loopback socket this process opened (``--bind fd://N``: no race for the port), optionally
with the background worker, and stops both. The port is chosen by the OS, or, when
``ICBT_TEST_PORTS=5161-5179`` is set, the first free port of that range.

The server's clock can be set between requests: ``server.set_clock("2026-03-23")``
(see ``icbt.clock``: the server reads ``ICBT_FAKE_NOW_FILE``).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "platform") not in sys.path:  # also used outside pytest (bench/)
    sys.path.insert(0, str(ROOT / "platform"))

from icbt.clock import write_fake_now  # noqa: E402

# Variables of the caller's environment that would point the server somewhere else.
_SCRUB = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ICBT_CONFIG", "ICBT_INSTANCE", "ICBT_FAKE_NOW",
          "ICBT_FAKE_NOW_FILE", "ICBT_TEST_DATABASE_URL", "FLASK_APP", "FLASK_DEBUG")


def server_environment(instance: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        ICBT_CONFIG="development",
        ICBT_INSTANCE=str(instance),
        ICBT_FAKE_NOW_FILE=str(instance / "fake_now"),
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def flask_cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``flask --app wsgi ARGS`` in the checkout; its output, or an error with the output."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_instance(instance: Path, database_url: str | None = None, *, demo: bool = True) -> dict[str, str]:
    """A migrated (and demo-seeded) database in ``instance``; the server's environment."""
    instance.mkdir(parents=True, exist_ok=True)
    env = server_environment(instance, database_url)
    flask_cli(env, "db", "upgrade")
    if demo:
        flask_cli(env, "demo")
    return env


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when this process dies (Linux), so that a killed
    test run leaves no server behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - other systems: best effort only
        pass


def _listen(host: str = "127.0.0.1") -> socket.socket:
    ports = os.environ.get("ICBT_TEST_PORTS", "").strip()
    candidates = [0]
    if ports:
        low, _, high = ports.partition("-")
        candidates = list(range(int(low), int(high or low) + 1))
    for port in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise RuntimeError(f"no free port in ICBT_TEST_PORTS={ports}")


class LiveServer:
    """gunicorn serving ``app`` (default ``wsgi:app``) on a loopback port, for one database."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        app: str = "wsgi:app",
        workers: int = 2,
        threads: int = 1,
        worker: bool = False,
        access_log: bool = True,
    ) -> None:
        self.env = env
        self.instance = Path(env["ICBT_INSTANCE"])
        self.log_path = log_path
        self.app = app
        self.workers = workers
        self.threads = threads
        self.with_worker = worker
        self.access_log = access_log
        self._socket: socket.socket | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def database_url(self) -> str:
        """The server's database, for tests that count what landed in it."""
        return self.env.get("DATABASE_URL") or f"sqlite:///{self.instance / 'icbt.sqlite3'}"

    def set_clock(self, value: Any) -> None:
        """Move the server's clock (a date, an aware datetime or ISO text); None: real time."""
        write_fake_now(self.env["ICBT_FAKE_NOW_FILE"], value)

    def start(self, timeout: float = 60) -> LiveServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._socket = _listen()
        self.port = self._socket.getsockname()[1]
        fd = self._socket.fileno()
        command = [
            sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", str(self.workers),
            "--threads", str(self.threads), "--graceful-timeout", "5", "--timeout", "60",
            "--error-logfile", "-", "--log-level", "warning",
            *(["--access-logfile", "-"] if self.access_log else []), self.app,
        ]
        self._procs.append(subprocess.Popen(
            command, cwd=ROOT, env=self.env, pass_fds=(fd,), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        ))
        if self.with_worker:
            self._procs.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--workers", "1"],
                cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            ))
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last = error
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout}s ({last}); see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
