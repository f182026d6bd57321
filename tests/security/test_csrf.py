"""CSRF, tested with CSRF protection ON (the usual test config turns it off): every POST
route refuses a request without a token, with a stale one and with another session's
one, with a clear 400 page; a valid token passes."""
from __future__ import annotations

import time
from collections.abc import Iterator

import itsdangerous
import pytest
from flask import Flask

from icbt.extensions import queue
from tests.conftest import PASSWORD, csrf_token, login, make_test_app
from tests.security.route_table import BY_ENDPOINT

CLEAR_MESSAGE = "The form expired or was sent from another page."


@pytest.fixture(scope="session")
def _csrf_app(database_url: str, tmp_path_factory: pytest.TempPathFactory, _session_app: Flask) -> Flask:
    return make_test_app(database_url, tmp_path_factory.mktemp("csrf"), WTF_CSRF_ENABLED=True)


@pytest.fixture
def csrf_app(app: Flask, _csrf_app: Flask) -> Iterator[Flask]:
    """An app with CSRF on, on the same (emptied after each test) database as ``app``."""
    yield _csrf_app
    queue.init_app(app)


def _post_routes(app: Flask, world) -> list[str]:  # type: ignore[no-untyped-def]
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.methods and "POST" in rule.methods:
            route = BY_ENDPOINT[rule.endpoint]
            urls.append(adapter.build(rule.endpoint, route.args(world, world.own_participant), method="POST"))
    return sorted(set(urls))


def test_every_post_route_refuses_a_missing_token(csrf_app: Flask, world) -> None:
    client = csrf_app.test_client()
    login(client, world.patient)  # the helper fetches tokens from the pages
    urls = _post_routes(csrf_app, world)
    assert "/auth/login" in urls and "/auth/logout" in urls and len(urls) >= 10
    for url in urls:
        response = client.post(url, data={"display_name": "x", "email": "a@b.cd", "password": "x"})
        assert response.status_code == 400, url
        assert CLEAR_MESSAGE in response.get_data(as_text=True), url
    assert client.get("/me/").status_code == 200  # still logged in: nothing was done


def test_valid_token_passes(csrf_app: Flask, factory) -> None:
    user = factory.user()
    client = csrf_app.test_client()
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_stale_token_is_refused(csrf_app: Flask, factory, monkeypatch) -> None:
    user = factory.user()
    client = csrf_app.test_client()
    real_now = time.time()
    five_hours_ago = int(real_now) - 5 * 3600  # the limit is 4 hours
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: five_hours_ago)
        token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400
    assert CLEAR_MESSAGE in response.get_data(as_text=True)


def test_token_of_another_session_is_refused(csrf_app: Flask, factory) -> None:
    user = factory.user()
    attacker, victim = csrf_app.test_client(), csrf_app.test_client()
    foreign = csrf_token(attacker, "/auth/login")
    csrf_token(victim, "/auth/login")  # the victim has a session with its own token
    response = victim.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": foreign})
    assert response.status_code == 400


def test_token_signed_with_another_key_is_refused(csrf_app: Flask, factory) -> None:
    user = factory.user()
    client = csrf_app.test_client()
    csrf_token(client, "/auth/login")
    forged = itsdangerous.URLSafeTimedSerializer("some-other-secret-key", salt="wtf-csrf-token").dumps("abc")
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": forged})
    assert response.status_code == 400


def test_logged_in_post_with_foreign_token_changes_nothing(csrf_app: Flask, factory) -> None:
    from icbt.extensions import db

    user = factory.user(name="Original Name")
    victim, attacker = csrf_app.test_client(), csrf_app.test_client()
    login(victim, user)
    foreign = csrf_token(attacker, "/auth/login")
    response = victim.post("/account/name", data={"display_name": "Changed By Attacker", "csrf_token": foreign})
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.display_name == "Original Name"
    token = csrf_token(victim, "/account/")
    assert victim.post("/account/name", data={"display_name": "Chosen Name", "csrf_token": token}).status_code == 302
    db.session.refresh(user)
    assert user.display_name == "Chosen Name"


def test_the_participant_list_forms_post_with_their_own_fields(csrf_app: Flask, factory) -> None:
    """The admin's participant list writes each row's form by hand (no form object per row):
    the names and the token it writes are the ones the assignment view reads back."""
    import re

    from icbt.extensions import db
    from icbt.trials.models import Participant
    from icbt.users.models import Role

    admin = factory.user(Role.ADMIN)
    therapist = factory.user(Role.THERAPIST, name="Assigned Therapist")
    participant = factory.participant()
    client = csrf_app.test_client()
    login(client, admin)
    html = client.get("/admin/participants").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/admin/participants/{participant.id}/therapist".*?</form>', html, re.S)
    assert form is not None
    token = re.search(rf'name="p{participant.id}-csrf_token" type="hidden" value="([^"]+)"', form.group(0))
    assert token is not None
    assert f'<option value="{therapist.id}">Assigned Therapist</option>' in form.group(0)
    response = client.post(f"/admin/participants/{participant.id}/therapist",
                           data={f"p{participant.id}-csrf_token": token.group(1),
                                 f"p{participant.id}-therapist": str(therapist.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Participant, participant.id).therapist_id == therapist.id
    html = client.get("/admin/participants").get_data(as_text=True)
    assert f'<option value="{therapist.id}" selected>Assigned Therapist</option>' in html
