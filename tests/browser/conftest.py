"""Fixtures of the real-browser journeys (run by ``make test-browser``, never by ``make test``).

- ``live_server`` (session): the real server (gunicorn, and the background worker) on a
  fresh database migrated and seeded by the real CLI, on a free loopback port. SQLite by
  default; ``ICBT_BROWSER_DATABASE_URL=postgresql://...`` runs it on a scratch PostgreSQL
  database instead.
- ``browser`` (session): Debian's Chromium through Playwright (``ICBT_CHROMIUM``, default
  /usr/bin/chromium); Playwright never downloads a browser.
- ``viewport``: each journey runs at a phone and a desktop size.
- ``visit(journey, js=True)``: a fresh browser context (own cookies) and a ``Visitor``;
  console errors fail the test when it ends.

Every test in this folder is marked ``browser`` (pyproject's addopts deselect them).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import VIEWPORTS, Viewport, Visitor
from tests.liveserver import ROOT, LiveServer, prepare_instance

try:
    import playwright  # noqa: F401
except ImportError:  # `make test` installs no browser extra: these tests are not even collected
    PLAYWRIGHT_MISSING = True
    collect_ignore_glob = ["test_*.py"]
else:
    PLAYWRIGHT_MISSING = False

HERE = Path(__file__).resolve().parent
OUTPUT = ROOT / "test-output" / "browser"
AXE_JS = Path(os.environ.get("ICBT_AXE_JS", HERE / "node_modules" / "axe-core" / "axe.min.js"))
CHROMIUM = os.environ.get("ICBT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    if PLAYWRIGHT_MISSING and "not" not in (config.option.markexpr or "") and "browser" in (config.option.markexpr or ""):
        raise pytest.UsageError("the browser tests need Playwright: run `make test-browser` (pip install '.[browser]')")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_output() -> Path:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    return OUTPUT


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser_output: Path) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("browser-instance")
    with ExitStack() as stack:
        database_url = os.environ.get("ICBT_BROWSER_DATABASE_URL")
        if database_url:
            from tests.conftest import scratch_postgres_database

            database_url = stack.enter_context(scratch_postgres_database(database_url))
        env = prepare_instance(instance, database_url)
        server = LiveServer(env, log_path=browser_output / "server.log", workers=2, worker=True)
        stack.enter_context(server)
        yield server


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"axe-core not found at {AXE_JS}: run `make test-browser` (npm ci in tests/browser)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: run `make test-browser` (pip install '.[browser]')")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test-browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> Viewport:
    return VIEWPORTS[request.param]


@pytest.fixture
def visit(browser: Any, live_server: LiveServer, axe_source: str, browser_output: Path,
          viewport: Viewport) -> Iterator[Callable[..., Visitor]]:
    """``visit("journey name", js=True)``: a new person in a new browser context."""
    contexts: list[Any] = []
    visitors: list[Visitor] = []

    def _visit(journey: str, *, js: bool = True) -> Visitor:
        context = browser.new_context(java_script_enabled=js, locale="en-GB", timezone_id="Europe/Stockholm",
                                      **viewport.context_options())
        context.set_default_timeout(15_000)
        contexts.append(context)
        visitor = Visitor(page=context.new_page(), server=live_server, viewport=viewport,
                          journey=journey if js else f"{journey}-nojs", out=browser_output,
                          axe_source=axe_source, js=js)
        visitors.append(visitor)
        return visitor

    yield _visit
    for context in contexts:
        context.close()
    for visitor in visitors:
        visitor.finish()
