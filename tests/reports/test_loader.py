"""The streaming loader reads what the measures tables hold, by the measures module's own rules."""
from __future__ import annotations

import datetime as dt

import pytest

from icbt.extensions import db
from icbt.measures.services import analysis_records
from icbt.reports.loader import load_dataset
from tests.reports.helpers import build_trial

NOW = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_loader_agrees_with_the_measures_analysis_records(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    with db.read_only_session() as reader:
        dataset = load_dataset(reader, built.trial, now=NOW)
    records = {r["code"]: r for r in analysis_records(db.session, built.trial.id)}
    assert len(dataset) == len(records) == 24
    for p in dataset:
        rec = records[p.code]
        assert p.arm == rec["arm"]
        for attr, slot in (("core_om_pre", "core_om_pre"), ("core_om_post", "core_om_post")):
            expected = (rec[slot] or {}).get("total_clinical")
            assert getattr(p, attr) == (pytest.approx(expected) if expected is not None else None)
        for part in ("total", "task", "bond", "goal"):
            assert p.wai_week3.get(part) == (rec["wai_week3"] or {}).get(part)
            assert p.expected.get(part) == (rec["expected_alliance"] or {}).get(part)
        assert p.gad7_screening == (rec["gad7_screening"] or {}).get("total")
        assert p.phq9_screening == (rec["phq9_screening"] or {}).get("total")


def test_loader_takes_corrections_late_answers_and_flow_flags(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory)
    with db.read_only_session() as reader:
        seen: list[float] = []
        dataset = load_dataset(reader, built.trial, now=NOW, progress=seen.append)
    by_code = {p.code: p for p in dataset}
    first = by_code[built.participants[0].code]
    assert first.core_om_post == pytest.approx(built.notes["corrected_post"])
    assert built.notes["corrected_post"] != built.notes["original_post"]
    assert by_code[built.participants[2].code].core_om_post is not None  # late still counts
    last = by_code[built.participants[-1].code]
    assert last.core_om_post is None and last.completed_post is False
    treated = [p for p in dataset if p.arm == "treatment"]
    assert sum(p.completed_week3 for p in treated) == 10  # participants 5 and 11 missed week 3
    assert all(p.wai_week3.is_empty for p in treated if not p.completed_week3)
    assert all(p.started for p in dataset if p.arm)  # start date 2026-01-05 is before NOW
    applicant = [p for p in dataset if p.arm is None and not p.excluded]
    excluded = [p for p in dataset if p.excluded]
    assert len(applicant) == 1 and not applicant[0].assessed
    assert len(excluded) == 1 and excluded[0].assessed
    assert dataset.instrument_versions == {"core-om": "1.0", "expected-alliance": "1.0", "gad-7": "1.0",
                                           "phq-9": "1.0", "wai-s": "1.0"}
    assert seen and seen[-1] == 1.0


def test_not_started_before_the_start_date(app, factory) -> None:  # type: ignore[no-untyped-def]
    built = build_trial(factory, n_treatment=3, n_waitlist=3)
    with db.read_only_session() as reader:
        dataset = load_dataset(reader, built.trial, now=dt.datetime(2026, 1, 4, 12, tzinfo=dt.timezone.utc))
    assert not any(p.started for p in dataset)
