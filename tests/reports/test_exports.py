"""The exports: pseudonymised, escaped against formula injection, complete per the codebook, and
sufficient to recompute the analysis."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from icbt.extensions import db
from icbt.measures.models import AdministrationAnswer
from icbt.reports import job
from icbt.reports.exports import escape_cell
from icbt.reports.services import start_run
from icbt.users.models import User
from tests.reports.checks import assert_results_recompute_from_csv
from tests.reports.helpers import build_trial


@pytest.mark.parametrize("text", ["=SUM(A1:A9)", "+1", "-1", "@cmd", "\tx", "\rx", "=HYPERLINK(\"http://x\")"])
def test_text_that_a_spreadsheet_would_run_is_escaped(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["P-7KQ2M9", "", "a=b", " =x", 3, -3.5, 0, None, 2.0])
def test_other_cells_and_all_numbers_pass_unchanged(value) -> None:  # type: ignore[no-untyped-def]
    assert escape_cell(value) == value


def _export(trial, **params) -> tuple[dict[str, str], dict]:  # type: ignore[no-untyped-def]
    run = start_run(db.session, trial, parameters=params or None)
    run_id = run.id
    db.session.commit()
    folder = job.run_dir(run_id)
    with zipfile.ZipFile(folder / "export.zip") as archive:
        files = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    return files, json.loads((folder / "results.json").read_text())


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_is_pseudonymised_and_free_text_stays_out(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    files, _ = _export(built.trial)
    assert set(files) == {"participants.csv", "items_long.csv", "codebook.json", "codebook.csv", "results.json"}
    everything = "\n".join(files.values())
    users = db.session.scalars(select(User)).all()
    assert users
    for user in users:
        assert user.email not in everything
        assert user.display_name not in everything
    assert "Anna Svensson" not in everything  # the staff correction note
    codes = {row["participant_code"] for row in _rows(files["participants.csv"])}
    assert codes == {p.code for p in built.trial.participants}
    header = next(csv.reader(io.StringIO(files["participants.csv"])))
    assert not {"email", "name", "display_name", "user_id", "participant_id"} & set(header)
    assert json.loads(files["codebook.json"])["contains_free_text"] is False


def test_free_text_only_when_asked_and_then_flagged_and_escaped(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=4, n_waitlist=3)
    files, results = _export(built.trial, include_free_text=True)
    assert results["parameters"]["include_free_text"] is True
    book = json.loads(files["codebook.json"])
    assert book["contains_free_text"] is True and "identify" in book["free_text_warning"]
    rows = _rows(files["free_text.csv"])
    assert len(rows) == 1
    assert rows[0]["text"] == "'=Typed in by Anna Svensson from the paper form"  # starts with '=': escaped
    assert rows[0]["participant_code"] == built.participants[0].code
    assert any(v["file"] == "free_text.csv" and v["name"] == "text" and "FREE TEXT" in v["description"]
               for v in book["variables"])


def test_a_formula_in_a_code_is_escaped_but_negative_numbers_stay_numbers(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=6, n_waitlist=4)
    built.participants[1].code = "=2+3"
    built.participants[2].code = "-P-1"
    db.session.commit()
    files, results = _export(built.trial)
    raw = files["participants.csv"]
    lines = raw.splitlines()
    assert any(line.startswith("'=2+3,treatment,") for line in lines)
    assert any(line.startswith("'-P-1,treatment,") for line in lines)
    assert not any(line.startswith("=") or line.startswith("-") for line in lines)
    gains = [row["residual_gain"] for row in _rows(raw) if row["residual_gain"]]
    negative = [g for g in gains if g.startswith("-")]
    assert negative, "residual gains below zero must exist in a regression's residuals"
    for g in negative:
        assert float(g) < 0  # written as a plain number, not '-1.2
    long_rows = _rows(files["items_long.csv"])
    assert {r["participant_code"] for r in long_rows} >= {"'=2+3", "'-P-1"}


def test_the_files_are_complete_and_described_by_the_codebook(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    files, results = _export(built.trial)
    book = json.loads(files["codebook.json"])
    described = {(v["file"], v["name"]) for v in book["variables"]}
    for name in ("participants.csv", "items_long.csv"):
        header = next(csv.reader(io.StringIO(files[name])))
        assert {(name, column) for column in header} <= described, name
    assert book["instruments"]["core-om"]["version"] == "1.0"
    assert book["instruments"]["core-om"]["items"]["3"]["reversed"] is True
    assert book["instruments"]["wai-s"]["items"]["1"]["values"]["7"]
    assert book["instrument_versions_in_data"] == results["instrument_versions"]
    assert json.loads(files["results.json"]) == results
    # one row per stored answer, every revision; "current" marks the revision the analysis uses
    long_rows = _rows(files["items_long.csv"])
    stored = db.session.scalar(select(func.count()).select_from(AdministrationAnswer))
    assert len(long_rows) == stored
    first = built.participants[0].code
    post = [r for r in long_rows if r["participant_code"] == first and r["instrument"] == "core-om" and r["timepoint"] == "post"]
    assert {(r["revision"], r["current"]) for r in post} == {("0", "0"), ("1", "1")}
    assert len(post) == 68
    assert "codebook.csv" in files and files["codebook.csv"].startswith("file,variable,type,description,values")


def test_the_analysis_recomputes_from_the_exported_csvs(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=14, n_waitlist=12, seed=4)
    files, results = _export(built.trial)
    assert_results_recompute_from_csv(files["participants.csv"], results)


def test_cli_export_writes_the_same_files(app, factory, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=5, n_waitlist=4)
    files, results = _export(built.trial)
    out = tmp_path / "export"
    result = runner.invoke(args=["export", str(out), "--trial", built.trial.slug])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name in ("participants.csv", "items_long.csv", "codebook.csv"):
        assert (out / name).read_bytes().decode("utf-8") == files[name], name
    cli_results = json.loads((out / "results.json").read_text())
    for key in ("generated_at", "run_id", "requested_by", "requested_at"):  # only a run has these
        cli_results.pop(key, None)
        results.pop(key, None)
    assert cli_results == results
    from icbt.audit.models import AuditEvent

    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "report.export_cli")) == 1
