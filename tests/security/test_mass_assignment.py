"""No mass assignment: whatever extra fields a visitor posts (role, therapist_id, arm...),
only the fields a form declares are used. Driven by the route table: every POST route,
as every role allowed to use it."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from icbt.extensions import db
from icbt.trials.models import Participant
from icbt.users.models import User
from tests.security.conftest import World, logged_in_client
from tests.security.route_table import ROUTES, Route

POST_ROUTES = [r for r in ROUTES if "POST" in r.ok or (r.anonymous and "POST" in r.anonymous)]


def _users() -> list[tuple]:
    return [tuple(r) for r in db.session.execute(
        select(User.id, User.role, User.active, User.email, User.password_hash).order_by(User.id)
    )]


def _participants() -> list[tuple]:
    return [tuple(r) for r in db.session.execute(
        select(Participant.id, Participant.user_id, Participant.therapist_id, Participant.arm, Participant.status,
               Participant.trial_id, Participant.code).order_by(Participant.id)
    )]


def _hostile(world: World) -> dict[str, str]:
    return {
        "role": "admin", "active": "0", "is_admin": "1", "id": str(world.admin.id), "user_id": str(world.admin.id),
        "therapist_id": str(world.other_therapist.id), "arm": "treatment", "status": "completed",
        "trial_id": "999", "participant_id": str(world.other_participant.id), "code": "P-HACKED",
        "session_token": "x" * 32, "email_confirmed": "1", "password_hash": "$argon2id$forged",
    }


def test_every_post_route_is_covered() -> None:
    assert {"account.name", "account.email", "account.password", "auth.login"} <= {r.endpoint for r in POST_ROUTES}


@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda r: r.endpoint)
def test_extra_fields_change_nothing(app: Flask, world: World, route: Route) -> None:
    adapter = app.url_map.bind("localhost")
    for role in sorted(route.roles - {"anonymous"}) or ["anonymous"]:
        participant = world.own(role)
        url = adapter.build(route.endpoint, route.args(world, participant), method="POST")
        user = None if role == "anonymous" else world.user(role)
        client = logged_in_client(app, user)
        db.session.expire_all()
        users, participants = _users(), _participants()
        # Valid-looking declared fields too, so that the form may succeed and save.
        data = {"display_name": "Same Person", "email": "", "password": "", "code": "", **_hostile(world)}
        response = client.post(url, data=data)
        assert response.status_code < 500, (url, role)
        db.session.expire_all()
        # Roles, activity, addresses, passwords and every participant's ownership, arm,
        # status and code are exactly as before.
        assert _users() == users, (url, role)
        assert _participants() == participants, (url, role)
