"""Error pages speak plainly and never show a stack trace."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import OperationalError

from tests.conftest import make_test_app


def test_not_found_page(client) -> None:
    response = client.get("/no/such/page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in html and "Traceback" not in html
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_method_not_allowed_page(client) -> None:
    response = client.delete("/auth/login")
    assert response.status_code == 405
    assert "That action is not possible here" in response.get_data(as_text=True)


def test_unexpected_error_is_a_plain_500(tmp_path: Path, database_url: str) -> None:
    app = make_test_app(database_url, tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_database_unavailable_is_a_503(tmp_path: Path, database_url: str) -> None:
    app = make_test_app(database_url, tmp_path)

    @app.route("/db-down")
    def db_down():  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    response = app.test_client().get("/db-down")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "briefly unavailable" in response.get_data(as_text=True)


def test_unreachable_database_gives_503_not_500(tmp_path: Path) -> None:
    app = make_test_app("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
