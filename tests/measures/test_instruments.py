"""Instrument files: validated on load with the file and field named; a trial can add or
swap an instrument with a file and no code change; no published wording in the repository."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from icbt.measures.instruments import EXAMPLES_DIR, PACKAGE_DIR, InstrumentError, load_instruments
from icbt.measures.scoring import score_answers
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parents[2]


def _write(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _gad7() -> dict:
    return yaml.safe_load((PACKAGE_DIR / "gad-7.yaml").read_text(encoding="utf-8"))


def test_shipped_instruments_load() -> None:
    loaded = load_instruments([PACKAGE_DIR])
    assert set(loaded) == {"core-om", "wai-s", "expected-alliance", "gad-7", "phq-9"}
    assert loaded["core-om"].copyright_required and loaded["core-om"].wording_copyright
    assert loaded["wai-s"].notes["subscale_check"]["status"]  # the *check* outcome is recorded


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d.pop("id"), "id", "is required"),
        (lambda d: d.update(version=1.0), "version", "quoted string"),
        (lambda d: d["items"][2].update(number=7), "items[2].number", "must be 3"),
        (lambda d: d["items"][0].update(domain="sleep"), "items[0].domain", "not one of the domains"),
        (lambda d: d["items"][0].update(reversed="yes"), "items[0].reversed", "true or false"),
        (lambda d: d.update(options=[{"value": 0, "label": "a"}, {"value": 2, "label": "b"}]), "options", "consecutive"),
        (lambda d: d["scoring"]["scores"][0].update(method="median"), "scoring.scores[0].method", "must be one of"),
        (lambda d: d["scoring"]["scores"][0].update(max_missing=7), "scoring.scores[0].max_missing", "between 0 and 6"),
        (lambda d: d["scoring"]["scores"][0].update(items=[1, 99]), "scoring.scores[0].items", "unknown item numbers"),
        (lambda d: d["scoring"].update(primary="mean"), "scoring.primary", "must name one of the scores"),
        (lambda d: d["scoring"]["bands"]["levels"].reverse(), "scoring.bands.levels", "must increase"),
        (lambda d: d["items"][0].update(risk_threshold=1), "items[0].risk_threshold", "only allowed on a risk item"),
        (lambda d: d["items"][0].update(risk=True, risk_threshold=3), "items[0].risk_threshold", "between the lowest"),
    ],
)
def test_a_bad_file_is_refused_naming_file_and_field(tmp_path: Path, change, field: str, reason: str) -> None:
    data = _gad7()
    change(data)
    path = _write(tmp_path, "broken.yaml", data)
    with pytest.raises(InstrumentError) as info:
        load_instruments([tmp_path])
    assert info.value.source == str(path)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(path) in str(info.value) and field in str(info.value)


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"bad\.yaml: \(file\): is not valid YAML"):
        load_instruments([tmp_path])


def test_the_same_id_twice_in_one_folder_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", _gad7())
    _write(tmp_path, "b.yaml", _gad7())
    with pytest.raises(InstrumentError, match="also defined in"):
        load_instruments([tmp_path])


def test_a_trial_swaps_the_week3_instrument_by_adding_a_file(tmp_path: Path) -> None:
    """WAI-SR: 1-5 answers, its own subscale key, no reversed items; loaded from the extra
    folder; scored by the same code."""
    extra = tmp_path / "trial-instruments"
    extra.mkdir()
    shutil.copy(EXAMPLES_DIR / "wai-sr.yaml", extra / "wai-sr.yaml")
    loaded = load_instruments([PACKAGE_DIR, extra])
    sr = loaded["wai-sr"]
    assert {d: sorted(i.number for i in sr.items if i.domain == d) for d in sr.domains} == {
        "task": [1, 2, 10, 12], "goal": [4, 6, 8, 11], "bond": [3, 5, 7, 9]}  # MEASURES.md
    answers = dict(zip(range(1, 13), [5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5, 4]))
    s = score_answers(sr, answers).scores
    assert s["task"] == 5 + 4 + 1 + 4
    assert s["goal"] == 2 + 5 + 3 + 5
    assert s["bond"] == 3 + 1 + 4 + 2
    assert s["total"] == sum(answers.values())  # nothing reversed


def test_a_file_in_the_extra_folder_replaces_a_shipped_one(tmp_path: Path) -> None:
    data = _gad7()
    data["version"] = "2.0-trial"
    data["scoring"]["scores"][0]["max_missing"] = 1  # the trial allows one missing item
    _write(tmp_path, "gad-7.yaml", data)
    gad = load_instruments([PACKAGE_DIR, tmp_path])["gad-7"]
    assert gad.version == "2.0-trial"
    answers = {n: 2 for n in range(1, 7)}  # item 7 missing: prorated 2 x 7
    assert score_answers(gad, answers).scores["total"] == 14


def test_the_app_loads_the_extra_folder_and_refuses_to_start_with_a_bad_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    shutil.copy(EXAMPLES_DIR / "wai-sr.yaml", _write(extra, "placeholder.yaml", _gad7()).parent / "wai-sr.yaml")
    (extra / "placeholder.yaml").unlink()
    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path, INSTRUMENTS_EXTRA_DIR=str(extra))
    assert "wai-sr" in app.extensions["icbt.instruments"]
    data = _gad7()
    del data["items"][3]["label"]
    _write(extra, "gad-7.yaml", data)
    with pytest.raises(InstrumentError, match=r"gad-7\.yaml: items\[3\]\.label: is required"):
        make_test_app(f"sqlite:///{tmp_path / 'y.sqlite3'}", tmp_path, INSTRUMENTS_EXTRA_DIR=str(extra))


def test_the_repository_carries_no_published_wording() -> None:
    """Our labels are short topic labels, never sentences of the licensed questionnaires: a
    few distinctive published phrases must appear nowhere in the package or tests."""
    phrases = [
        r"terribly alone", r"someone to turn to", r"made plans to end my life",
        r"thought it would be better if I were dead", r"little interest or pleasure in doing things",
        r"feeling nervous, anxious,? or on edge", r"not being able to stop or control worrying",
        r"agree about the things I will need to do", r"I believe .{0,10} likes me",
    ]
    pattern = re.compile("|".join(phrases), re.IGNORECASE)
    this_file = Path(__file__).resolve()
    offenders = []
    for folder in (ROOT / "platform", ROOT / "tests"):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in {".py", ".yaml", ".yml", ".html", ".json", ".md", ".txt"} \
                    and path.resolve() != this_file:
                if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                    offenders.append(str(path))
    assert offenders == []
    for instrument in load_instruments([PACKAGE_DIR, EXAMPLES_DIR]).values():
        for item in instrument.items:
            assert len(item.label.split()) <= 7, (instrument.id, item.number, item.label)
