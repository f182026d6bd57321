"""The admin pages: access, the click-through from "Run analysis" to the report, the numbers on
the page against results.json, downloads (audit-logged), failed and stale runs."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.reports import job
from icbt.reports.models import ReportRun
from icbt.reports.services import start_run
from icbt.users.models import Role
from tests.conftest import login
from tests.reports.checks import assert_page_shows_results
from tests.reports.helpers import build_trial


def _done_run(trial, admin):  # type: ignore[no-untyped-def]
    run = start_run(db.session, trial, requested_by=admin)
    run_id = run.id
    db.session.commit()
    return db.session.get(ReportRun, run_id)


def test_admin_clicks_run_analysis_and_reads_the_report(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=14, n_waitlist=12, seed=9)
    admin = factory.user(Role.ADMIN)
    login(client, admin)
    page = client.get("/admin/reports/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Run analysis" in html and 'action="/admin/reports/"' in html
    # the nav leads there
    assert 'href="/admin/reports/"' in client.get("/admin/").get_data(as_text=True)
    response = client.post("/admin/reports/", data={"trial_id": built.trial.id})
    assert response.status_code == 302
    run_url = response.headers["Location"]
    run_id = int(run_url.rstrip("/").split("/")[-1])
    report = client.get(run_url)
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    results = json.loads((job.run_dir(run_id) / "results.json").read_text())
    week3 = results["alliance_week3_vs_residual_gain"]
    r_text = f"{week3['r']:.2f}".replace("0.", ".", 1)
    assert f"r = {r_text}, p " in html and f"n = {week3['n']}" in html
    assert "semipartial" in html and "not the partial correlation of an ANCOVA" in html
    # every number on the page is the one in results.json
    assert assert_page_shows_results(html, results) > 80
    # figures are served, tables come before figures, the results paragraph first
    assert html.index('id="report-results"') < html.index('id="report-tables"') < html.index('id="report-figures"')
    for name in ("alliance_week3.svg", "expected_alliance.svg", "core_om_pre_post.svg"):
        with client.get(f"/admin/reports/{run_id}/figures/{name}") as figure:
            assert figure.status_code == 200 and figure.mimetype == "image/svg+xml"
            assert b"<svg" in figure.data and b"<script" not in figure.data
    # no inline script or style (CSP)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html
    view = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.view"))
    assert view is not None and view.actor_id == admin.id


def test_downloads_are_admin_only_and_audit_logged(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=4)
    admin = factory.user(Role.ADMIN)
    run = _done_run(built.trial, admin)
    login(client, admin)
    response = client.get(f"/admin/reports/{run.id}/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.data[:2] == b"PK"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"].startswith("no-store") or "no-store" in response.headers["Cache-Control"]
    response.close()
    response = client.get(f"/admin/reports/{run.id}/results.json")
    assert response.status_code == 200 and json.loads(response.data)["run_id"] == run.id
    response.close()
    lines = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.download")
                               .order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.detail["file"]) for e in lines] == [(admin.id, "export.zip"), (admin.id, "results.json")]
    assert all(e.target_id == str(run.id) for e in lines)


ROUTES = [
    ("get", "/admin/reports/"), ("post", "/admin/reports/"), ("get", "/admin/reports/{id}"),
    ("get", "/admin/reports/{id}/status.json"), ("post", "/admin/reports/{id}/cancel"),
    ("post", "/admin/reports/{id}/restart"), ("get", "/admin/reports/{id}/figures/alliance_week3.svg"),
    ("get", "/admin/reports/{id}/export.zip"), ("get", "/admin/reports/{id}/results.json"),
]


@pytest.mark.parametrize("role", [None, Role.PATIENT, Role.THERAPIST])
def test_nobody_but_an_admin_reaches_any_analysis_page(app, factory, client, role) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    run = _done_run(built.trial, None)
    if role is not None:
        user = factory.user(role) if role != Role.PATIENT else built.participants[0].user
        login(client, user)
    for method, url in ROUTES:
        response = getattr(client, method)(url.format(id=run.id), data={"trial_id": built.trial.id})
        if role is None:
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
        else:
            assert response.status_code == 403, url
        response.close()
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.download")) is None
    if role is not None:
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
        assert len(denied) == len(ROUTES)


def test_a_queued_run_shows_progress_with_a_reload_link_and_the_polling_script(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    admin = factory.user(Role.ADMIN)
    run = ReportRun(trial_id=built.trial.id, status="running", progress=0.45, current_step="figures",
                    heartbeat_at=dt.datetime.now(dt.timezone.utc), parameters={}, worker="w:1:t")
    db.session.add(run)
    db.session.commit()
    login(client, admin)
    html = client.get(f"/admin/reports/{run.id}").get_data(as_text=True)
    assert '<progress max="100" value="45"' in html and "Drawing the figures" in html
    assert f'href="/admin/reports/{run.id}"' in html  # a plain reload link: works without JS
    assert 'src="/static/js/report-progress.js"' in html
    status = client.get(f"/admin/reports/{run.id}/status.json").get_json()
    assert status == {"id": run.id, "status": "running", "progress": 0.45, "step": "figures",
                      "step_label": "Drawing the figures", "error": None, "url": f"/admin/reports/{run.id}"}
    with client.get("/static/js/report-progress.js") as script:
        assert script.status_code == 200
    # cancel it
    response = client.post(f"/admin/reports/{run.id}/cancel")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ReportRun, run.id).status == "failed"


def test_a_stale_run_shows_as_failed_on_read_and_starts_again(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    admin = factory.user(Role.ADMIN)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    run = ReportRun(trial_id=built.trial.id, status="running", progress=0.3, current_step="exports",
                    heartbeat_at=long_ago, started_at=long_ago, created_at=long_ago, parameters={}, worker="w:1:t",
                    traceback=None)
    db.session.add(run)
    db.session.commit()
    login(client, admin)
    status = client.get(f"/admin/reports/{run.id}/status.json").get_json()
    assert status["status"] == "failed" and "stopped responding" in status["error"]
    page = client.get(f"/admin/reports/{run.id}").get_data(as_text=True)
    assert "The analysis did not finish" in page and "Start again" in page
    response = client.post(f"/admin/reports/{run.id}/restart")
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert new_id != run.id
    assert db.session.get(ReportRun, new_id).status == "done"


def test_a_failed_run_shows_its_reason_and_traceback_to_the_admin(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    admin = factory.user(Role.ADMIN)
    run = ReportRun(trial_id=built.trial.id, status="failed", progress=0.2, current_step="load", parameters={},
                    error_message="Reading the measurements failed: OperationalError: gone",
                    traceback="Traceback (most recent call last):\n  File \"x.py\"\nOperationalError: gone")
    db.session.add(run)
    db.session.commit()
    login(client, admin)
    html = client.get(f"/admin/reports/{run.id}").get_data(as_text=True)
    assert "Reading the measurements failed: OperationalError: gone" in html
    assert "Technical details" in html and "Traceback (most recent call last)" in html
    assert client.get(f"/admin/reports/{run.id}/export.zip").status_code == 404
    assert client.get(f"/admin/reports/{run.id}/status.json").get_json()["error"].startswith("Reading")


def test_double_submit_starts_one_run_and_bad_ids_are_404(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    admin = factory.user(Role.ADMIN)
    live = ReportRun(trial_id=built.trial.id, status="queued", parameters={}, current_step="queued")
    db.session.add(live)
    db.session.commit()
    login(client, admin)
    response = client.post("/admin/reports/", data={"trial_id": built.trial.id})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/reports/{live.id}")
    assert len(db.session.scalars(select(ReportRun)).all()) == 1
    assert client.post("/admin/reports/", data={"trial_id": 999999}).status_code in (400, 404)
    assert client.get("/admin/reports/999999").status_code == 404
    assert client.get(f"/admin/reports/{live.id}/figures/..%2Fresults.json").status_code == 404
    assert client.get(f"/admin/reports/{live.id}/figures/x.png").status_code == 404
