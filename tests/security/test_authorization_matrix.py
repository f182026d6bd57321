"""Deny by default: every route in app.url_map, every method, every visitor, own and
another's object, against ONE table (tests/security/route_table.py)."""
from __future__ import annotations

import pytest
from flask import Flask

from icbt.extensions import db
from tests.security.conftest import World, captured_writes, disallowed_get_writes, logged_in_client
from tests.security.route_table import BY_ENDPOINT, LOGIN, PARTICIPANT, ROUTES, Route

VISITORS = ("anonymous", "patient", "therapist", "admin")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_every_route_has_exactly_one_row(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(BY_ENDPOINT))
    assert not missing, (
        "These routes have no row in tests/security/route_table.py; add one each "
        f"(roles, owner, args, ok): {missing}"
    )
    stale = sorted(set(BY_ENDPOINT) - endpoints)
    assert not stale, f"Rows for routes that no longer exist; remove them: {stale}"
    assert len(ROUTES) == len(BY_ENDPOINT), "an endpoint has two rows in route_table.py"


def expected(route: Route, visitor: str, method: str, which: str) -> set[int] | str:
    if visitor == "anonymous":
        if "anonymous" not in route.roles:
            return LOGIN
        if route.anonymous and method in route.anonymous:
            return route.anonymous[method]
    elif visitor not in route.roles:
        return {403}
    elif method in route.by_role.get(visitor, {}):
        return route.by_role[visitor][method]
    elif which == "other" and visitor != "admin":
        return route.other
    if method not in route.ok:
        pytest.fail(f"{route.endpoint}: accepts {method} but its row has no ok[{method!r}]")
    return route.ok[method]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.endpoint)
def test_authorization_matrix(app: Flask, world: World, route: Route) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint == route.endpoint]
    if not rules:
        pytest.fail(f"{route.endpoint} is in route_table.py but not in app.url_map")
    adapter = app.url_map.bind("localhost")
    get_clients = {visitor: logged_in_client(app, None if visitor == "anonymous" else world.user(visitor))
                   for visitor in VISITORS}
    failures: list[str] = []
    visits = 0
    for rule in rules:
        for method in sorted(rule.methods - IGNORED_METHODS):
            for visitor in VISITORS:
                cases = [("own", world.own(visitor)), ("other", world.other(visitor))] if route.owner == PARTICIPANT \
                    else [("none", world.own(visitor))]
                for which, participant in cases:
                    values = route.args(world, participant)
                    url = adapter.build(route.endpoint, values, method=method)
                    want = expected(route, visitor, method, which)
                    if method == "GET":
                        client = get_clients[visitor]
                    else:  # a fresh login: a POST may log out or change the account
                        client = logged_in_client(app, None if visitor == "anonymous" else world.user(visitor))
                    # The test's own data first (the client would commit it inside the
                    # capture, with the page-cache versions it bumps): only the request's
                    # statements are captured.
                    db.session.commit()
                    with captured_writes(app) as writes:
                        response = client.open(url, method=method, data=dict(route.data))
                    visits += 1
                    status = response.status_code
                    where = f"{method} {url} as {visitor} ({which})"
                    if want == LOGIN:
                        location = response.headers.get("Location", "")
                        if status != 302 or not location.startswith("/auth/login"):
                            failures.append(f"{where}: {status} {location!r}, expected a redirect to the login page")
                    elif status not in want:
                        failures.append(f"{where}: {status}, expected {sorted(want)}")
                    if status >= 500:
                        failures.append(f"{where}: server error")
                    if method == "GET" and disallowed_get_writes(writes):
                        failures.append(f"{where}: a GET changed state: {disallowed_get_writes(writes)}")
                    if route.endpoint != "static" and response.headers.get("Cache-Control") != "no-store":
                        failures.append(f"{where}: no Cache-Control: no-store")
                    response.close()
    assert visits >= len(VISITORS)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("statement", "allowed"), [
    ("INSERT INTO audit_events (at, action) VALUES (?, ?)", True),
    ('INSERT INTO "page_reads" (participant_id, plan_item_id, page) VALUES (%(a)s, %(b)s, %(c)s)', True),
    ("UPDATE page_reads SET last_read_at=? WHERE page_reads.id = ?", True),
    ("UPDATE messages SET read_at=? WHERE messages.id IN (?, ?)", True),
    ("UPDATE user_sessions SET ended_at=?, end_reason=? WHERE user_sessions.id = ?", True),
    ("UPDATE messages SET read_at=?, body=? WHERE messages.id = ?", False),  # only read_at
    ("INSERT INTO messages (conversation_id, body) VALUES (?, ?)", False),
    ("INSERT INTO administrations (participant_id) VALUES (?)", False),
    ("UPDATE administrations SET status=?, opened_notified_at=? WHERE administrations.id = ?", False),
    ("DELETE FROM page_reads WHERE id = ?", False),
    ("UPDATE audit_events SET action=? WHERE id = ?", False),
])
def test_the_get_write_allow_list(statement: str, allowed: bool) -> None:
    """The policy's allow-list, by table and (for updates) by column."""
    assert (disallowed_get_writes([statement]) == []) is allowed
