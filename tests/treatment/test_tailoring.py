"""The tailoring engine (pure) and its rules file.

Hand-made rules check each rule in isolation with plans worked out by hand; the real rules
(modules/tailoring.yaml) are then checked over every single problem, every pair, triples
and all problems at once, against properties that must hold whatever the data says.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from icbt.content import load_content
from icbt.content.library import LibraryError, load_library
from icbt.tailoring.engine import (
    Profile, ProfileError, Proposal, TrialSettings, describe_left_out, describe_reason, propose, rank_problems,
)
from icbt.tailoring.problems import PROBLEM_KEYS, SEVERITIES
from icbt.tailoring.rules import TailoringRules, load_rules
from tests.treatment.library_fixture import REAL_MODULES, write_library

# ------------------------------------------------------------------ hand-made rules

LISTS = {
    "panic": ("panic-1", "panic-2", "relax", "agora-1"),
    "agoraphobia": ("agora-1", "agora-2"),
    "social_anxiety": ("social-1", "social-2", "thoughts"),
    "gad": ("worry-1", "worry-2", "thoughts", "relax"),
    "health_anxiety": ("health-1", "thoughts"),
    "ptsd": ("trauma-1",),
    "depression": ("activation-1", "thoughts"),
    "insomnia": ("sleep-1", "relax"),
    "stress": ("stress-1", "relax"),
}


def rules(**changes) -> TailoringRules:  # type: ignore[no-untyped-def]
    base = dict(version=3, first="intro", last="relapse", primary={"mild": 2, "moderate": 3, "severe": None},
                comorbid={"mild": 1, "moderate": 2, "severe": 3}, fill_to=0, fill_with=(), problems=LISTS)
    base.update(changes)
    return TailoringRules(**base)


def plan(primary: str, severity: str, comorbid: dict[str, str] | None = None, weeks: int = 10,
         cap: int | None = None, **rule_changes) -> Proposal:  # type: ignore[no-untyped-def]
    return propose(Profile.of(primary, severity, comorbid or {}), TrialSettings(weeks, cap), rules(**rule_changes))


def test_intro_first_relapse_last_and_the_primary_track_by_severity() -> None:
    assert plan("panic", "mild").module_ids == ["intro", "panic-1", "panic-2", "relapse"]
    assert plan("panic", "moderate").module_ids == ["intro", "panic-1", "panic-2", "relax", "relapse"]
    assert plan("panic", "severe").module_ids == ["intro", "panic-1", "panic-2", "relax", "agora-1", "relapse"]


def test_every_module_has_a_reason_in_plain_words() -> None:
    proposal = plan("social_anxiety", "moderate", {"depression": "moderate"})
    texts = [describe_reason(e.reason) for e in proposal.entries]
    assert texts[0].startswith("Always the first module")
    assert texts[1] == "Social anxiety is the primary problem, severity moderate."
    assert "Low mood (depression) is comorbid, severity moderate." in texts
    assert texts[-1].startswith("Always the last module")


def test_a_screening_score_is_cited_in_its_problems_reasons_and_changes_no_choice() -> None:
    screeners = {"gad": "gad-7", "depression": "phq-9"}
    profile = Profile.of("gad", "severe", {"depression": "moderate", "insomnia": "mild"},
                         scores={"gad-7": 15, "phq-9": 11.5})
    proposal = propose(profile, TrialSettings(10), rules(screeners=screeners))
    without = propose(Profile.of("gad", "severe", {"depression": "moderate", "insomnia": "mild"}),
                      TrialSettings(10), rules(screeners=screeners))
    assert proposal.module_ids == without.module_ids
    by_module = {e.module_id: e.reason for e in proposal.entries}
    assert by_module["worry-1"].score == ("gad-7", 15)
    assert describe_reason(by_module["worry-1"]) == (
        "GAD-7 = 15: Worry (generalised anxiety) is the primary problem, severity severe.")
    assert describe_reason(by_module["activation-1"]).startswith("PHQ-9 = 11.5: Low mood (depression) is comorbid")
    assert by_module["sleep-1"].score is None  # no screener for insomnia
    # Stored and read back as data; a name function gives the instrument's display name.
    stored = by_module["worry-1"].to_dict()
    assert stored["score"] == {"instrument": "gad-7", "value": 15}
    assert describe_reason(stored, instrument_name=lambda i: f"<{i}>").startswith("<gad-7> = 15:")
    # Without screeners in the rules, no score is cited.
    assert all(e.reason.score is None for e in propose(profile, TrialSettings(10), rules()).entries)


def test_a_score_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ProfileError):
        propose(Profile.of("gad", "mild", scores={"gad-7": "high"}), TrialSettings(10), rules())  # type: ignore[dict-item]


def test_comorbid_tracks_follow_the_primary_ordered_by_severity() -> None:
    proposal = plan("ptsd", "severe", {"stress": "mild", "depression": "severe", "insomnia": "moderate"})
    # by hand: ptsd (all: trauma-1), depression severe (3 -> activation-1, thoughts),
    # insomnia moderate (2 -> sleep-1, relax), stress mild (1 -> stress-1)
    assert proposal.module_ids == ["intro", "trauma-1", "activation-1", "thoughts", "sleep-1", "relax", "stress-1",
                                   "relapse"]
    assert [p for p, _, _ in rank_problems(Profile.of("ptsd", "severe", {"stress": "mild", "depression": "severe",
                                                                          "insomnia": "moderate"}))] == [
        "ptsd", "depression", "insomnia", "stress"]


def test_ties_between_comorbid_problems_follow_the_problem_key_order() -> None:
    forward = plan("ptsd", "mild", {"stress": "moderate", "social_anxiety": "moderate"})
    # social_anxiety comes before stress in PROBLEM_KEYS
    assert forward.module_ids.index("social-1") < forward.module_ids.index("stress-1")
    assert PROBLEM_KEYS.index("social_anxiety") < PROBLEM_KEYS.index("stress")


def test_a_shared_module_appears_once_and_names_every_problem_it_serves() -> None:
    proposal = plan("gad", "severe", {"insomnia": "moderate", "stress": "moderate"})
    assert proposal.module_ids.count("relax") == 1
    relax = next(e for e in proposal.entries if e.module_id == "relax")
    assert relax.reason.problem == "gad"
    assert {a[0] for a in relax.reason.also} == {"insomnia", "stress"}
    text = describe_reason(relax.reason)
    assert "Also serves Sleep problems (insomnia) (comorbid, moderate)." in text
    assert "Also serves Stress (comorbid, moderate)." in text


def test_the_cap_gives_every_problem_its_first_module_before_the_rest() -> None:
    # Cap 6 = intro + relapse + 4. By hand: firsts in rank order panic-1, activation-1 (depression
    # severe), sleep-1 (insomnia mild); then panic-2; the rest does not fit.
    proposal = plan("panic", "severe", {"insomnia": "mild", "depression": "severe"}, weeks=6)
    assert proposal.module_ids == ["intro", "panic-1", "panic-2", "activation-1", "sleep-1", "relapse"]
    left = {(lo.problem, lo.module_id) for lo in proposal.left_out}
    assert left == {("panic", "relax"), ("panic", "agora-1"), ("depression", "thoughts")}
    assert all(lo.cap == 6 for lo in proposal.left_out)
    assert describe_left_out(proposal.left_out[0]).endswith("the plan is full at 6 modules.")


def test_module_cap_and_weeks_both_limit_the_plan() -> None:
    assert len(plan("gad", "severe", {"social_anxiety": "severe"}, weeks=10, cap=5).entries) == 5
    assert len(plan("gad", "severe", {"social_anxiety": "severe"}, weeks=4, cap=10).entries) == 4


def test_a_problem_that_cannot_fit_is_reported_whole() -> None:
    proposal = plan("panic", "mild", {"ptsd": "mild", "stress": "mild", "insomnia": "mild"}, weeks=4)
    # room for 2: panic-1, then the first comorbid by key order (ptsd); stress and insomnia do not fit
    assert proposal.module_ids == ["intro", "panic-1", "trauma-1", "relapse"]
    whole = {lo.problem for lo in proposal.left_out if lo.module_id is None}
    assert whole == {"insomnia", "stress"}
    text = describe_left_out(next(lo for lo in proposal.left_out if lo.problem == "stress"))
    assert text == "Could not fit Stress (comorbid, mild): the plan is full at 4 modules."


def test_a_tiny_cap_keeps_the_introduction() -> None:
    proposal = plan("panic", "severe", weeks=1)
    assert proposal.module_ids == ["intro"]
    assert any(lo.module_id == "relapse" for lo in proposal.left_out)
    assert any(lo.problem == "panic" and lo.module_id is None for lo in proposal.left_out)


def test_a_short_plan_is_filled_from_the_same_problems_then_general_skills() -> None:
    proposal = plan("ptsd", "mild", {"stress": "mild"}, fill_to=6, fill_with=("thoughts", "relax", "sleep-1"))
    # by hand: trauma-1, stress-1 given; fill: stress's next (relax), then general: thoughts
    assert proposal.module_ids == ["intro", "trauma-1", "stress-1", "relax", "thoughts", "relapse"]
    kinds = {e.module_id: e.reason.kind for e in proposal.entries}
    assert kinds["relax"] == "comorbid" and kinds["thoughts"] == "fill"
    assert "plan had room" in describe_reason(next(e.reason for e in proposal.entries if e.module_id == "relax"))


def test_the_same_profile_always_gives_the_same_plan() -> None:
    comorbid = {"insomnia": "mild", "depression": "moderate", "social_anxiety": "moderate", "stress": "severe"}
    first = plan("gad", "moderate", comorbid, weeks=8)
    for order in itertools.permutations(comorbid.items()):
        again = propose(Profile.of("gad", "moderate", list(order)), TrialSettings(8), rules())
        assert again == first


@pytest.mark.parametrize(
    ("primary", "severity", "comorbid"),
    [("panik", "mild", {}), ("panic", "awful", {}), ("panic", "mild", {"panic": "mild"}),
     ("panic", "mild", {"gad": "huge"}), ("panic", "mild", {"worry": "mild"})],
)
def test_a_bad_profile_is_refused(primary: str, severity: str, comorbid: dict[str, str]) -> None:
    with pytest.raises(ProfileError):
        plan(primary, severity, comorbid)


# ------------------------------------------------------------------ the real rules

@pytest.fixture(scope="module")
def real():  # type: ignore[no-untyped-def]
    return load_content(REAL_MODULES)


def check_properties(proposal: Proposal, profile: Profile, settings: TrialSettings, rules_: TailoringRules) -> None:
    ids = proposal.module_ids
    assert ids[0] == rules_.first
    assert ids[-1] == rules_.last or settings.cap < 2
    assert len(ids) == len(set(ids)), f"duplicate module in {ids}"
    assert len(ids) <= settings.cap
    if settings.cap >= 3:
        assert ids[1] == rules_.problems[profile.primary][0], "the primary problem's track comes first"
    ranked = rank_problems(profile)
    problems = {p for p, _, _ in ranked}
    for entry in proposal.entries[1:-1]:
        reason = entry.reason
        if reason.kind == "fill":
            assert entry.module_id in rules_.fill_with
        else:
            assert reason.kind in ("primary", "comorbid") and reason.problem in problems
            assert entry.module_id in rules_.problems[reason.problem]
        assert describe_reason(reason)
    # Every problem is served by some module of its list, or reported as not fitting.
    whole = {lo.problem for lo in proposal.left_out if lo.module_id is None}
    for problem in problems:
        served = any(m in ids for m in rules_.problems[problem])
        assert served != (problem in whole), problem
    if proposal.left_out:
        assert len(ids) == settings.cap, "something was left out although there was room"
    # Problems' own modules come in rank order: a problem's first module (where it heads it)
    # never comes before that of a higher-ranked problem.
    heads = [next((i for i, e in enumerate(proposal.entries) if e.reason.problem == p and e.reason.kind != "fill"), None)
             for p, _, _ in ranked]
    present = [h for h in heads if h is not None]
    assert present == sorted(present)


@pytest.mark.parametrize("primary", PROBLEM_KEYS)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_every_single_problem(real, primary: str, severity: str) -> None:  # type: ignore[no-untyped-def]
    profile, settings = Profile.of(primary, severity), TrialSettings()
    proposal = propose(profile, settings, real.rules)
    check_properties(proposal, profile, settings, real.rules)
    assert len(proposal.entries) >= min(real.rules.fill_to, settings.cap)
    assert not proposal.left_out


def test_every_pair_of_problems(real) -> None:  # type: ignore[no-untyped-def]
    n = 0
    for primary, other in itertools.permutations(PROBLEM_KEYS, 2):
        for s1, s2 in itertools.product(SEVERITIES, repeat=2):
            profile, settings = Profile.of(primary, s1, {other: s2}), TrialSettings()
            proposal = propose(profile, settings, real.rules)
            check_properties(proposal, profile, settings, real.rules)
            assert real.rules.problems[other][0] in proposal.module_ids, (primary, other)
            n += 1
    assert n == 9 * 8 * 9


def test_three_or_more_problems(real) -> None:  # type: ignore[no-untyped-def]
    for primary in PROBLEM_KEYS:
        others = [k for k in PROBLEM_KEYS if k != primary]
        for a, b in itertools.combinations(others, 2):
            for weeks in (6, 10):
                profile = Profile.of(primary, "moderate", {a: "severe", b: "mild"})
                settings = TrialSettings(weeks)
                check_properties(propose(profile, settings, real.rules), profile, settings, real.rules)
    everything = Profile.of("gad", "severe", {k: "moderate" for k in PROBLEM_KEYS if k != "gad"})
    proposal = propose(everything, TrialSettings(10), real.rules)
    check_properties(proposal, everything, TrialSettings(10), real.rules)
    assert len(proposal.entries) == 10 and proposal.left_out


@pytest.mark.parametrize("cap", range(1, 13))
def test_the_cap_is_respected_for_any_size(real, cap: int) -> None:  # type: ignore[no-untyped-def]
    profile = Profile.of("panic", "severe", {"agoraphobia": "severe", "depression": "moderate", "insomnia": "mild"})
    settings = TrialSettings(weeks=12, module_cap=cap)
    proposal = propose(profile, settings, real.rules)
    assert len(proposal.entries) <= cap
    if cap >= 2:
        check_properties(proposal, profile, settings, real.rules)


# ------------------------------------------------------------------ the rules file

def _rules_with(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    root = write_library(tmp_path)
    data = yaml.safe_load((root / "tailoring.yaml").read_text())
    change(data)
    (root / "tailoring.yaml").write_text(yaml.safe_dump(data))
    return root


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d["problems"]["panic"].append("no-such-module"), "problems.panic[5]", "not in the library"),
        (lambda d: d["problems"]["ptsd"].append("panic-1"), "problems.ptsd[1]", "does not target 'ptsd'"),
        (lambda d: d["problems"].pop("stress"), "problems.stress", "missing or empty"),
        (lambda d: d["problems"].update(panic=["panic-2", "panic-1"]), "problems.panic", "keep the track's order"),
        (lambda d: d["problems"]["panic"].append("intro"), "problems.panic[5]", "fixed module"),
        (lambda d: d.update(first="nothing"), "first", "not in the library"),
        (lambda d: d["comorbid"].update(mild="one"), "comorbid.mild", "or 'all'"),
        (lambda d: d.update(colour="blue"), "colour", "not a known rule"),
        (lambda d: d["problems"].update(worries=["worry-1"]), "problems.worries", "not a problem key"),
        (lambda d: d.update(screeners={"worry": "gad-7"}), "screeners.worry", "not a problem key"),
        (lambda d: d.update(screeners={"gad": 7}), "screeners.gad", "questionnaire id"),
        (lambda d: d.update(screeners=["gad-7"]), "screeners", "must map problem keys"),
    ],
)
def test_a_bad_rules_file_is_refused(tmp_path: Path, change, field: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    root = _rules_with(tmp_path, change)
    with pytest.raises(LibraryError) as caught:
        load_rules(root, load_library(root))
    found = [(p.file, p.field, p.reason) for p in caught.value.problems]
    assert any(f.endswith("tailoring.yaml") and fld == field and reason in r for f, fld, r in found), found
