"""The number of SQL statements a page sends does not grow with the caseload (no N+1).

The pages are bench/pages.py's list, so a page added there is checked here too."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from bench.pages import PAGES, Page
from bench.queries import logged_in_clients, statements_for
from bench.world import build_world, grow_caseload
from icbt.extensions import db
from icbt.trials.models import Participant
from tests.conftest import make_test_app


@pytest.fixture
def world(app: Flask, session):  # type: ignore[no-untyped-def]
    world = build_world(session, 3)
    session.commit()
    return world


def test_statements_do_not_grow_with_the_caseload(app: Flask, session, world) -> None:  # type: ignore[no-untyped-def]
    """Every page of bench/pages.py, on one world (seeding it is most of the cost)."""
    # A page that only exists with a bigger caseload (caseload page 2) runs the same
    # queries as its first page, which is checked.
    pages = [page for page in PAGES if page.min_patients <= world.n_patients]
    clients = logged_in_clients(app, world)
    before = {page.name: statements_for(app, clients, world, page) for page in pages}
    grow_caseload(session, world, 25)
    session.commit()
    assert world.n_patients == 28
    clients = logged_in_clients(app, world)
    after = {page.name: statements_for(app, clients, world, page) for page in pages}
    grown = [f"{name}: {before[name]} statements with 3 patients, {after[name]} with 28"
             for name in before if after[name] != before[name]]
    assert not grown, "\n".join(grown)


def test_the_count_sees_a_query_per_row(session, world, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The counter itself: a view that lazy-loads each patient's account is caught growing."""
    app = make_test_app(database_url, tmp_path)  # a second app on the same database

    @app.route("/bench-n-plus-one")
    def n_plus_one():  # type: ignore[no-untyped-def]
        participants = db.session.scalars(select(Participant)).all()
        return ",".join(p.user.email for p in participants)

    probe = Page("n+1 probe", "anonymous", "/bench-n-plus-one")
    before = statements_for(app, logged_in_clients(app, world), world, probe)
    grow_caseload(session, world, 5)
    session.commit()
    after = statements_for(app, logged_in_clients(app, world), world, probe)
    assert after - before == 5


def test_a_page_from_the_cache_sends_fewer_statements(app: Flask, session, world) -> None:  # type: ignore[no-untyped-def]
    """The pages the page cache keeps: served again with nothing changed, they send no more
    statements than rendered (session, ownership, versions, audit line: the module page's
    checks are most of its statements, the cache saves its rendering), and a fixed number
    for any caseload."""
    cached_pages = ["patient dashboard", "module page", "message thread", "therapist caseload"]
    pages = [page for page in PAGES if page.name in cached_pages]
    assert len(pages) == len(cached_pages)
    clients = logged_in_clients(app, world)
    rendered = {page.name: statements_for(app, clients, world, page) for page in pages}
    cached = {page.name: statements_for(app, clients, world, page, cached=True) for page in pages}
    assert all(cached[name] <= rendered[name] for name in cached_pages), (rendered, cached)
    assert sum(cached.values()) < sum(rendered.values()) - 10, (rendered, cached)
    grow_caseload(session, world, 25)
    session.commit()
    clients = logged_in_clients(app, world)
    assert {page.name: statements_for(app, clients, world, page, cached=True) for page in pages} == cached
