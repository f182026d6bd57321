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
    clients = logged_in_clients(app, world)
    before = {page.name: statements_for(app, clients, world, page) for page in PAGES}
    grow_caseload(session, world, 25)
    session.commit()
    assert world.n_patients == 28
    clients = logged_in_clients(app, world)
    after = {page.name: statements_for(app, clients, world, page) for page in PAGES}
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
