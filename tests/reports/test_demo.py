"""Done means: on the demo trial a new admin clicks "Run analysis", sees progress, then the report;
the page shows results.json's numbers, and the exported CSVs recompute them. (Queue in immediate
mode: the job runs when the request that queued it commits.)"""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from icbt.demo import DEMO_PASSWORD, seed_demo
from icbt.extensions import db
from icbt.reports import job
from icbt.reports.models import ReportRun
from icbt.trials.models import Trial
from icbt.users.models import User
from tests.conftest import login
from tests.reports.checks import assert_page_shows_results, assert_results_recompute_from_csv


def test_demo_trial_click_through(app, client) -> None:  # type: ignore[no-untyped-def]
    seed_demo(db.session, seed=2026, today=dt.date(2026, 11, 26))
    db.session.commit()
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.example"))
    login(client, admin, DEMO_PASSWORD)  # password and second factor, as the admin would
    index = client.get("/admin/reports/").get_data(as_text=True)
    assert "No analysis has been run yet." in index
    trial = db.session.scalar(select(Trial).where(Trial.slug == "demo"))
    response = client.post("/admin/reports/", data={"trial_id": trial.id})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    run = db.session.get(ReportRun, run_id)
    assert run.status == "done", run.error_message
    # the progress the admin saw: the run went through every step and its status says so
    status = client.get(f"/admin/reports/{run_id}/status.json").get_json()
    assert status["status"] == "done" and status["progress"] == 1.0
    html = client.get(f"/admin/reports/{run_id}").get_data(as_text=True)
    results = json.loads((job.run_dir(run_id) / "results.json").read_text())
    assert results["trial"] == "demo" and results["flow"]["randomised"] == 48
    assert results["alliance_week3_vs_residual_gain"]["n"] >= 3
    assert assert_page_shows_results(html, results) > 80
    with client.get(f"/admin/reports/{run_id}/export.zip") as download:
        archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert_results_recompute_from_csv(archive.read("participants.csv").decode(), results)
    assert json.loads(archive.read("results.json")) == results
    listing = client.get("/admin/reports/").get_data(as_text=True)
    assert f"Run {run_id}" in listing and "done" in listing
