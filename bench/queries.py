"""(b) SQL statements per page with a caseload of 10 and of 200 patients.

In-process: the app with the test configuration on a fresh database, the Flask test client
logged in as each role, statements counted by an engine listener. A page whose count grows
with the caseload has an N+1 query (a lazy load in a loop): the "grows" column says so.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from bench.client import totp_codes
from bench.databases import scratch_database
from bench.pages import PAGES, Page
from bench.statements import count_statements
from bench.world import World, build_world, grow_caseload

SIZES = (10, 200)


def make_app(database_url: str, instance: Path) -> Flask:
    from config import TestConfig
    from icbt import create_app, migrate

    config = TestConfig(database_url=database_url, instance_path=instance)
    app = create_app(config)
    migrate.upgrade(app)
    return app


def logged_in_clients(app: Flask, world: World) -> dict[str, FlaskClient]:
    """A test client per role, logged in through the real pages (staff: with the second factor)."""
    from icbt import clock

    clients = {"anonymous": app.test_client()}
    for role in ("patient", "therapist", "admin"):
        client = app.test_client()
        email = world.email_for(role)
        response = client.post("/auth/login", data={"email": email, "password": world.password})
        if response.status_code != 302:
            raise RuntimeError(f"bench: could not log in as {role}: {response.status_code}")
        location = response.headers["Location"]
        if location.startswith("/auth/two-factor"):
            with app.app_context():
                now = clock.now()  # the app's clock (a test may have set it)
            for code in totp_codes(email, now):
                response = client.post(location, data={"code": code})
                if response.status_code == 302:
                    break
            else:
                raise RuntimeError(f"bench: second factor of {role} refused: {response.status_code}")
        clients[role] = client
    return clients


def statements_for(app: Flask, clients: dict[str, FlaskClient], world: World, page: Page, *,
                   cached: bool = False) -> int:
    engine = app.extensions["icbt.db"]
    client = clients[page.role]
    # The page as rendered (the page cache off): what must not grow. With the cache on, a
    # page served from it sends fewer (``cached=True`` counts that).
    previous, app.config["PAGE_CACHE"] = app.config.get("PAGE_CACHE", True), cached
    try:
        client.get(world.format(page.path))  # warm: first-request work (caches) is not the page's
        with count_statements(engine) as statements:
            response = client.get(world.format(page.path))
    finally:
        app.config["PAGE_CACHE"] = previous
    if response.status_code != 200:
        raise RuntimeError(f"bench: {page.name} answered {response.status_code}")
    return len(statements)


def measure(database_url: str, pages: list[Page] = PAGES, sizes: tuple[int, ...] = SIZES) -> dict[str, list[int]]:
    """{page name: [statements at each caseload size]} on one fresh database."""
    from icbt.extensions import db

    with tempfile.TemporaryDirectory(prefix="icbt-bench-q-") as tmp:
        app = make_app(database_url, Path(tmp))
        counts: dict[str, list[int]] = {page.name: [] for page in pages}
        try:
            world: World | None = None
            for size in sizes:
                with app.app_context():
                    if world is None:
                        world = build_world(db.session, size)
                    else:
                        grow_caseload(db.session, world, size - world.n_patients)
                    db.session.commit()
                clients = logged_in_clients(app, world)
                for page in pages:
                    too_small = page.min_patients > world.n_patients
                    counts[page.name].append(-1 if too_small else statements_for(app, clients, world, page))
            for page in pages:  # the same pages at the largest size, served from the page cache
                counts[page.name].append(statements_for(app, clients, world, page, cached=True))
        finally:
            app.extensions["icbt.db"].dispose()
    return counts


def run(kinds: list[str], pg_url: str | None) -> None:
    print(f"\n== (b) SQL statements per page, caseload {SIZES[0]} vs {SIZES[1]} patients ==")
    for kind in kinds:
        with scratch_database(kind, pg_url) as url:
            if url is None:
                print(f"{kind}: skipped (no server)")
                continue
            counts = measure(url)
        print(f"\n{kind}")
        print("(rendered: the page cache off; cached: the same page again with nothing changed, "
              f"@{SIZES[1]}; a page the cache does not keep sends the same)")
        print(f"{'page':<28} {'@' + str(SIZES[0]):>6} {'@' + str(SIZES[1]):>6}  grows  {'cached':>6}")
        for page in PAGES:
            small, large, cached = counts[page.name]
            if small < 0:
                print(f"{page.name:<28} {'-':>6} {large:>6}  (needs {page.min_patients} patients) {cached:>6}")
                continue
            print(f"{page.name:<28} {small:>6} {large:>6}  {'YES' if large > small else 'no ':<5}  {cached:>6}")
