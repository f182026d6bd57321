"""Security headers on every response, and templates that never need inline script or style."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import icbt
from tests.conftest import login

TEMPLATES = Path(icbt.__file__).parent / "templates"
TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))
# Documents written to disk and opened offline (never served, so no CSP applies): they may
# carry their stylesheet inline. Scripts and handlers stay forbidden there too.
OFFLINE_DOCUMENTS = {"reports/standalone.html"}


def _csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/auth/login", "/no/such/page", "/healthz", "/static/css/app.css"])
def test_headers_on_public_responses(client, path) -> None:
    response = client.get(path)
    csp = _csp(response)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert csp["script-src"] == "script-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'" and csp["base-uri"] == "base-uri 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    if path.startswith("/static/"):
        assert response.headers.get("Cache-Control") != "no-store"
    else:
        assert response.headers["Cache-Control"] == "no-store"
    response.close()


def test_pages_with_health_data_are_never_cached(client, participant, therapist) -> None:
    login(client, therapist)
    response = client.get(f"/therapist/patients/{participant.id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_script_style_or_handlers(template: Path) -> None:
    html = template.read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert re.search(r"\bsrc=", tag), f"inline <script> in {template.name}: put it in static/js/"
    if str(template.relative_to(TEMPLATES)) not in OFFLINE_DOCUMENTS:
        assert not re.search(r"<style\b", html, re.I), f"<style> block in {template.name}: use static/css/app.css"
    assert not re.search(r"\sstyle\s*=", html, re.I), f"style= attribute in {template.name}"
    assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"inline event handler in {template.name}"
    assert "javascript:" not in html.lower(), f"javascript: URL in {template.name}"
    assert "|safe" not in html.replace(" ", ""), f"|safe in {template.name}: autoescaping must stay on"


def test_two_factor_setup_page_needs_nothing_inline(client, factory) -> None:
    """The QR code is an <img> with an SVG data URI (allowed by img-src data:), no script."""
    user = factory.user("therapist", totp=False)
    client.post("/auth/login", data={"email": user.email, "password": "correct-horse-battery"})
    html = client.get("/auth/two-factor/setup").get_data(as_text=True)
    assert '<img class="qr" src="data:image/svg+xml' in html
    assert "<script" not in html and " style=" not in html


def test_production_redirects_plain_http_to_https(app, tmp_path, database_url) -> None:
    from tests.conftest import make_test_app

    prod = make_test_app(database_url, tmp_path, FORCE_HTTPS=True, SESSION_COOKIE_SECURE=True)
    client = prod.test_client()
    plain = client.post("/auth/login?next=/me/", data={"email": "a@b.org"})
    assert plain.status_code == 308 and plain.headers["Location"] == "https://localhost/auth/login?next=/me/"
    assert client.get("/auth/login", base_url="https://localhost").status_code == 200
    assert client.get("/healthz").status_code == 200  # load-balancer checks stay on HTTP
    secure = client.get("/auth/login", base_url="https://localhost")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


def test_production_config_turns_on_https_only(monkeypatch, tmp_path) -> None:
    import config as cfg

    monkeypatch.setenv("ICBT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    production = cfg.load_config("production")
    assert production.FORCE_HTTPS and production.SESSION_COOKIE_SECURE
    assert production.DEVICE_COOKIE_NAME.startswith("__Host-") and not production.AUDIT_STRICT
    assert not cfg.DevelopmentConfig.FORCE_HTTPS
