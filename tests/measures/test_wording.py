"""`flask --app wsgi instruments install FILE`: made-up wording, checked item by item, kept
per trial, shown with its copyright line. (No published wording is used anywhere.)"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from icbt.extensions import db
from icbt.measures import services
from icbt.measures.models import Administration, InstalledWording

COPYRIGHT = "Made-up copyright line for tests"


def made_up_core_om(**changes) -> dict:  # type: ignore[no-untyped-def]
    data = {
        "instrument": "core-om",
        "instrument_version": "1.0",
        "wording_version": "test-en-1",
        "language": "en",
        "copyright": COPYRIGHT,
        "title": "Invented title for the test",
        "options": [{"value": v, "text": f"invented answer {v}"} for v in range(5)],
        "items": [{"number": n, "text": f"Invented question number {n}?"} for n in range(1, 35)],
    }
    data.update(changes)
    return data


def _write(tmp_path: Path, data: dict, name: str = "wording.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_install_checks_and_keeps_wording_per_trial(runner, factory, tmp_path: Path) -> None:
    trial = factory.trial(slug="alpha")
    factory.trial(slug="beta")
    path = _write(tmp_path, made_up_core_om())
    ambiguous = runner.invoke(args=["instruments", "install", str(path)])
    assert ambiguous.exit_code != 0 and "Give --trial SLUG: alpha, beta" in ambiguous.output
    result = runner.invoke(args=["instruments", "install", str(path), "--trial", "alpha"])
    assert result.exit_code == 0, result.output
    assert "Installed core-om wording test-en-1 (en) for trial alpha: 34 items checked." in result.output
    again = runner.invoke(args=["instruments", "install", str(path), "--trial", "alpha"])
    assert again.exit_code == 0 and "already installed" in again.output
    rows = db.session.scalars(select(InstalledWording)).all()
    assert [(r.trial_id, r.instrument_id, r.wording_version, r.copyright) for r in rows] == [
        (trial.id, "core-om", "test-en-1", COPYRIGHT)]
    assert rows[0].content["items"]["34"]["text"] == "Invented question number 34?"
    changed = _write(tmp_path, made_up_core_om(title="Another invented title"), "changed.json")
    refused = runner.invoke(args=["instruments", "install", str(changed), "--trial", "alpha"])
    assert refused.exit_code != 0 and "already installed for this trial with different text" in refused.output
    listing = runner.invoke(args=["instruments", "list"])
    assert "trial alpha: core-om wording test-en-1 (en)" in listing.output


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (made_up_core_om(items=[{"number": n, "text": f"q{n}"} for n in range(1, 34)]), "33 items, the definition has 34"),
        (made_up_core_om(items=[{"number": n, "text": f"q{n}"} for n in range(1, 34)]), "item numbers differ: missing [34]"),
        (made_up_core_om(items=[{"number": n, "text": f"q{n}"} for n in [*range(1, 34), 35]]), "unknown [35]"),
        (made_up_core_om(items=[{"number": n, "text": f"q{n}"} for n in [2, 1, *range(3, 35)]]), "not in the definition's order"),
        (made_up_core_om(options=[{"value": v, "text": f"a{v}"} for v in range(1, 6)]), "answer values [1, 2, 3, 4, 5] differ"),
        (made_up_core_om(items=[{"number": n, "text": f"q{n}", **({"domain": "risk"} if n == 1 else {})} for n in range(1, 35)]),
         "item 1: domain 'risk' differs"),
        (made_up_core_om(items=[{"number": n, "text": f"q{n}", **({"reversed": False} if n == 3 else {})} for n in range(1, 35)]),
         "item 3: reversed=False differs"),
        (made_up_core_om(items=[{"number": n, "text": "" if n == 7 else f"q{n}"} for n in range(1, 35)]), "item 7: text is missing"),
        (made_up_core_om(copyright=None), "copyright is required"),
        (made_up_core_om(instrument_version="2.0"), "instrument_version '2.0' does not match"),
        (made_up_core_om(wording_version=None), "wording_version is required"),
    ],
)
def test_a_mismatching_file_is_refused_item_by_item(runner, factory, tmp_path: Path, data: dict, problem: str) -> None:
    factory.trial(slug="alpha")
    result = runner.invoke(args=["instruments", "install", str(_write(tmp_path, data)), "--trial", "alpha"])
    assert result.exit_code != 0
    assert "nothing installed" in result.output and problem in result.output
    assert db.session.scalars(select(InstalledWording)).all() == []


def test_unknown_instrument_and_bad_files(runner, factory, tmp_path: Path) -> None:
    factory.trial(slug="alpha")
    unknown = runner.invoke(args=["instruments", "install", str(_write(tmp_path, made_up_core_om(instrument="bdi-ii")))])
    assert unknown.exit_code != 0 and "'bdi-ii' is not defined" in unknown.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [", encoding="utf-8")
    assert "not valid YAML" in runner.invoke(args=["instruments", "install", str(broken)]).output


def test_the_installed_wording_is_shown_with_its_copyright_and_recorded(runner, factory, therapist, login_as, tmp_path: Path) -> None:
    trial = factory.trial(slug="alpha", timezone="Europe/Stockholm")
    participant = factory.participant(trial=trial, therapist=therapist, arm="treatment", status="randomised",
                                      start_date=dt.date.today() + dt.timedelta(days=3))
    services.materialise_schedule(db.session, participant)
    db.session.commit()
    pre = db.session.scalar(select(Administration).where(Administration.instrument_id == "core-om",
                                                         Administration.timepoint == "pre"))
    before = login_as(participant.user).get(f"/me/questionnaires/{pre.id}").get_data(as_text=True)
    assert "Isolation" in before and COPYRIGHT not in before  # our labels, no copyright line
    runner.invoke(args=["instruments", "install", str(_write(tmp_path, made_up_core_om())), "--trial", "alpha"])
    client = login_as(participant.user)
    html = client.get(f"/me/questionnaires/{pre.id}").get_data(as_text=True)
    assert "Invented question number 9?" in html and "invented answer 4" in html and COPYRIGHT in html
    assert "Invented title for the test" in html
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html).group(1)
    data = {f"item_{n}": "1" for n in range(1, 35)} | {"send": "1", "idempotency_key": key, "wording_version": "test-en-1"}
    assert client.post(f"/me/questionnaires/{pre.id}", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Administration, pre.id).wording_version == "test-en-1"
    client.post("/auth/logout")
    staff = login_as(therapist)
    answers_page = staff.get(f"/staff/administrations/{pre.id}").get_data(as_text=True)
    assert "Invented question number 1?" in answers_page and COPYRIGHT in answers_page
    measures_page = staff.get(f"/staff/participants/{participant.id}/measures").get_data(as_text=True)
    assert "No licensed wording is installed" in measures_page  # still true for the other questionnaires
    assert measures_page.count("No licensed wording is installed") == len(
        {a.instrument_id for a in db.session.scalars(select(Administration))}) - 1
