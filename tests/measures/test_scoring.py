"""Scoring against the published rules (MEASURES.md), computed by hand in the tests.

The tables below (domains, reverse items, scored values) are written out from MEASURES.md,
not read from the instrument files, so a wrong file or wrong code fails here."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icbt.measures.instruments import PACKAGE_DIR, load_instruments
from icbt.measures.scoring import (
    AnswerError,
    change_category,
    clinically_significant_improvement,
    reliable_change,
    score_answers,
)

INSTRUMENTS = load_instruments([PACKAGE_DIR])
CORE = INSTRUMENTS["core-om"]
WAI = INSTRUMENTS["wai-s"]
EXPECTED = INSTRUMENTS["expected-alliance"]
GAD = INSTRUMENTS["gad-7"]
PHQ = INSTRUMENTS["phq-9"]

# From MEASURES.md.
WELLBEING = [4, 14, 17, 31]
PROBLEMS = [2, 5, 8, 11, 13, 15, 18, 20, 23, 27, 28, 30]
FUNCTIONING = [1, 3, 7, 10, 12, 19, 21, 25, 26, 29, 32, 33]
RISK = [6, 9, 16, 22, 24, 34]
CORE_REVERSED = [3, 4, 7, 12, 19, 21, 31, 32]
NON_RISK = WELLBEING + PROBLEMS + FUNCTIONING
TASK, BOND, GOAL = [1, 2, 8, 12], [3, 5, 7, 9], [4, 6, 10, 11]

# Example answer set A (CORE-OM): raw answer of item n is n mod 5.
CORE_A = {n: n % 5 for n in range(1, 35)}
# Scored by hand: reversed items become 4 - answer (3: 4-3=1, 4: 4-4=0, 7: 4-2=2, 12: 4-2=2,
# 19: 4-4=0, 21: 4-1=3, 31: 4-1=3, 32: 4-2=2); the others keep their answer.
CORE_A_SCORED = {
    1: 1, 2: 2, 3: 1, 4: 0, 5: 0, 6: 1, 7: 2, 8: 3, 9: 4, 10: 0, 11: 1, 12: 2, 13: 3, 14: 4, 15: 0, 16: 1, 17: 2,
    18: 3, 19: 0, 20: 0, 21: 3, 22: 2, 23: 3, 24: 4, 25: 0, 26: 1, 27: 2, 28: 3, 29: 4, 30: 0, 31: 3, 32: 2,
    33: 3, 34: 4,
}

# Example answer set B (WAI-S): raw answers of items 1..12.
WAI_B = dict(zip(range(1, 13), [5, 6, 4, 3, 7, 5, 6, 4, 7, 2, 5, 6]))
# Scored by hand: item 4: 8-3=5, item 10: 8-2=6.
WAI_B_SCORED = {1: 5, 2: 6, 3: 4, 4: 5, 5: 7, 6: 5, 7: 6, 8: 4, 9: 7, 10: 6, 11: 5, 12: 6}


def test_definitions_follow_the_published_structure() -> None:
    assert [i.number for i in CORE.items] == list(range(1, 35))
    by_domain = {d: sorted(i.number for i in CORE.items if i.domain == d) for d in CORE.domains}
    assert by_domain == {"wellbeing": WELLBEING, "problems": PROBLEMS, "functioning": FUNCTIONING, "risk": RISK}
    assert sorted(i.number for i in CORE.items if i.reversed) == CORE_REVERSED
    assert sorted(i.number for i in CORE.items if i.risk) == RISK
    assert all(i.values == (0, 1, 2, 3, 4) for i in CORE.items)
    for wai in (WAI, EXPECTED):
        assert {d: sorted(i.number for i in wai.items if i.domain == d) for d in wai.domains} == {
            "task": TASK, "bond": BOND, "goal": GOAL}
        assert sorted(i.number for i in wai.items if i.reversed) == [4, 10]
        assert all(i.values == tuple(range(1, 8)) for i in wai.items)
    assert [i.number for i in PHQ.items if i.risk] == [9]
    assert PHQ.item(9).risk_threshold == 0
    assert all(i.risk_threshold == 0 for i in CORE.risk_items)


def test_core_om_example_a_by_hand() -> None:
    s = score_answers(CORE, CORE_A).scores
    assert CORE_A_SCORED == {n: (4 - v if n in CORE_REVERSED else v) for n, v in CORE_A.items()}
    assert s["wellbeing"] == pytest.approx((0 + 4 + 2 + 3) / 4)  # 2.25
    assert s["problems"] == pytest.approx((2 + 0 + 3 + 1 + 3 + 0 + 3 + 0 + 3 + 2 + 3 + 0) / 12)  # 20/12
    assert s["functioning"] == pytest.approx((1 + 1 + 2 + 0 + 2 + 0 + 3 + 0 + 1 + 4 + 2 + 3) / 12)  # 19/12
    assert s["risk"] == pytest.approx((1 + 4 + 1 + 2 + 4 + 4) / 6)  # 16/6
    assert s["total"] == pytest.approx((9 + 20 + 19 + 16) / 34)  # 64/34 = 1.882
    assert s["non_risk"] == pytest.approx((9 + 20 + 19) / 28)  # 48/28 = 1.714
    assert s["total_clinical"] == pytest.approx(640 / 34)  # 18.82
    assert s["non_risk_clinical"] == pytest.approx(480 / 28)  # 17.14
    assert s["wellbeing_clinical"] == pytest.approx(22.5)
    result = score_answers(CORE, CORE_A)
    assert result.missing_items == ()
    assert result.band == "Moderate"  # 18.8 lies in 15-19.9
    # every risk item answered above 0 alerts
    assert result.risk_items == ((6, 1), (9, 4), (16, 1), (22, 2), (24, 4), (34, 4))


def test_wai_s_example_b_by_hand() -> None:
    s = score_answers(WAI, WAI_B).scores
    assert s["task"] == 5 + 6 + 4 + 6 == 21
    assert s["bond"] == 4 + 7 + 6 + 7 == 24
    assert s["goal"] == 5 + 5 + 6 + 5 == 21
    assert s["total"] == 66
    assert score_answers(EXPECTED, WAI_B).scores == s  # same scoring, own id


def test_wai_s_missing_item_is_prorated_within_its_subscale() -> None:
    answers = {**WAI_B, 9: None}  # a Bond item missing
    s = score_answers(WAI, answers).scores
    assert s["bond"] == pytest.approx((4 + 7 + 6) / 3 * 4)  # 22.67
    assert s["task"] == 21 and s["goal"] == 21
    assert s["total"] == pytest.approx((66 - 7) / 11 * 12)  # 64.36
    two_missing = score_answers(WAI, {**WAI_B, 9: None, 3: None}).scores
    assert two_missing["bond"] is None  # over the limit of 1 for a subscale
    assert two_missing["total"] is None  # over the limit of 1 for the total
    assert two_missing["task"] == 21


def _mean_of(numbers: list[int], drop: set[int]) -> float:
    kept = [CORE_A_SCORED[n] for n in numbers if n not in drop]
    return sum(kept) / len(kept)


@pytest.mark.parametrize(
    ("score", "items", "limit"),
    [
        ("total", list(range(1, 35)), 3),
        ("non_risk", NON_RISK, 3),
        ("problems", PROBLEMS, 1),
        ("functioning", FUNCTIONING, 1),
        ("wellbeing", WELLBEING, 0),
        ("risk", RISK, 0),
    ],
)
def test_core_om_prorating_boundaries(score: str, items: list[int], limit: int) -> None:
    # Drop items that carry a high scored value, so a zero-filled mean would differ.
    heavy = sorted(items, key=lambda n: -CORE_A_SCORED[n])
    at_limit = set(heavy[:limit])
    over = set(heavy[: limit + 1])
    s_at = score_answers(CORE, {n: v for n, v in CORE_A.items() if n not in at_limit}).scores
    s_over = score_answers(CORE, {n: (None if n in over else v) for n, v in CORE_A.items()}).scores
    assert s_at[score] == pytest.approx(_mean_of(items, at_limit))
    assert s_at[f"{score}_clinical"] == pytest.approx(10 * _mean_of(items, at_limit))
    assert s_over[score] is None and s_over[f"{score}_clinical"] is None


def test_missing_is_never_zero() -> None:
    empty = score_answers(CORE, {})
    assert all(value is None for value in empty.scores.values())
    assert empty.missing_items == tuple(range(1, 35))
    assert empty.band is None


@pytest.mark.parametrize(
    ("raw", "expected_total"),
    [
        (0, 8 * 4 / 34),  # answers all 0: only the 8 reversed items score 4
        (4, 26 * 4 / 34),  # answers all 4: the 26 others score 4, the reversed 0
    ],
)
def test_core_om_all_minimum_and_all_maximum_answers(raw: int, expected_total: float) -> None:
    s = score_answers(CORE, {n: raw for n in range(1, 35)}).scores
    assert s["total"] == pytest.approx(expected_total)
    assert s["risk"] == raw  # no reversed item among the risk items


def test_core_om_scored_extremes_are_0_and_40() -> None:
    best = {n: (4 if n in CORE_REVERSED else 0) for n in range(1, 35)}
    worst = {n: (0 if n in CORE_REVERSED else 4) for n in range(1, 35)}
    assert score_answers(CORE, best).scores["total_clinical"] == 0
    assert score_answers(CORE, worst).scores["total_clinical"] == 40
    assert score_answers(CORE, worst).band == "Severe"
    assert score_answers(CORE, best).band == "Healthy"


def test_wai_all_minimum_and_maximum() -> None:
    assert score_answers(WAI, {n: 1 for n in range(1, 13)}).scores["total"] == 10 * 1 + 2 * 7
    assert score_answers(WAI, {n: 7 for n in range(1, 13)}).scores["total"] == 10 * 7 + 2 * 1
    lowest = {n: (7 if n in (4, 10) else 1) for n in range(1, 13)}
    highest = {n: (1 if n in (4, 10) else 7) for n in range(1, 13)}
    low, high = score_answers(WAI, lowest).scores, score_answers(WAI, highest).scores
    assert (low["total"], low["task"], low["bond"], low["goal"]) == (12, 4, 4, 4)
    assert (high["total"], high["task"], high["bond"], high["goal"]) == (84, 28, 28, 28)


@pytest.mark.parametrize(
    ("instrument", "total", "band"),
    [
        (GAD, 0, "Minimal"), (GAD, 4, "Minimal"), (GAD, 5, "Mild"), (GAD, 9, "Mild"), (GAD, 10, "Moderate"),
        (GAD, 14, "Moderate"), (GAD, 15, "Severe"), (GAD, 21, "Severe"),
        (PHQ, 4, "Minimal"), (PHQ, 5, "Mild"), (PHQ, 10, "Moderate"), (PHQ, 15, "Moderately severe"),
        (PHQ, 19, "Moderately severe"), (PHQ, 20, "Severe"), (PHQ, 27, "Severe"),
    ],
)
def test_screener_sums_and_bands(instrument, total: int, band: str) -> None:
    n = len(instrument.items)
    answers, left = {}, total
    for number in range(1, n + 1):  # fill items with 3s until the total is reached
        answers[number] = min(3, left)
        left -= answers[number]
    assert left == 0
    result = score_answers(instrument, answers)
    assert result.scores["total"] == total
    assert result.band == band


def test_screeners_allow_no_missing_item() -> None:
    assert score_answers(GAD, {n: 1 for n in range(1, 7)}).scores["total"] is None
    assert score_answers(PHQ, {n: 0 for n in range(1, 9)}).scores["total"] is None


@pytest.mark.parametrize(("answer", "alerts"), [(0, ()), (1, ((9, 1),)), (3, ((9, 3),))])
def test_phq9_item_9_above_zero_is_a_risk_answer(answer: int, alerts: tuple) -> None:
    answers = {n: 0 for n in range(1, 10)} | {9: answer}
    assert score_answers(PHQ, answers).risk_items == alerts


@pytest.mark.parametrize(
    "bad", [{35: 1}, {1: 5}, {1: -1}, {"x": 1}, {1: "two"}, {1: True}, {1: 1.5}],
)
def test_bad_answers_are_refused(bad: dict) -> None:
    with pytest.raises(AnswerError):
        score_answers(CORE, bad)


@pytest.mark.parametrize(
    ("pre", "post", "category", "significant"),
    [
        (20.0, 15.0, "improved", False),  # exactly 5 points; stays above the cut-off
        (20.0, 15.1, "no reliable change", False),  # 4.9 points
        (12.0, 7.0, "improved", True),  # reliable and crosses from >= 10 to < 10
        (12.0, 8.0, "no reliable change", False),  # crosses but only 4 points
        (9.0, 4.0, "improved", False),  # reliable but started below the cut-off
        (15.0, 10.0, "improved", False),  # ends AT the cut-off: not below it
        (10.0, 4.9, "improved", True),  # starts AT the cut-off (at or above counts)
        (10.0, 15.0, "deteriorated", False),
        (None, 10.0, None, None),
    ],
)
def test_reliable_and_clinically_significant_change(pre, post, category, significant) -> None:
    assert reliable_change(pre, post, 5) == category
    assert clinically_significant_improvement(pre, post, cutoff=10, threshold=5) == significant
    stored = change_category(CORE, {"total_clinical": pre}, {"total_clinical": post})
    assert stored == {"score": "total_clinical", "reliable_change": category,
                      "clinically_significant_improvement": significant}


def test_change_between_real_score_sets_counts_exactly_at_the_threshold() -> None:
    # pre: every item scored 2 -> mean 2.0 -> 20 clinical points.
    # post: items 1-17 scored 1, 18-34 scored 2 -> mean 51/34 = 1.5 -> 15 points: exactly 5 less.
    pre = score_answers(CORE, {n: 2 for n in range(1, 35)}).scores["total_clinical"]
    scored_post = {n: (1 if n <= 17 else 2) for n in range(1, 35)}
    raw_post = {n: (4 - v if n in CORE_REVERSED else v) for n, v in scored_post.items()}
    post = score_answers(CORE, raw_post).scores["total_clinical"]
    assert (pre, post) == (pytest.approx(20), pytest.approx(15))
    assert reliable_change(pre, post, 5) == "improved"
    assert clinically_significant_improvement(pre, post, cutoff=10, threshold=5) is False


# ---------------------------------------------------------------- properties

core_answers = st.fixed_dictionaries({n: st.one_of(st.none(), st.integers(0, 4)) for n in range(1, 35)})
core_complete = st.fixed_dictionaries({n: st.integers(0, 4) for n in range(1, 35)})
wai_answers = st.fixed_dictionaries({n: st.one_of(st.none(), st.integers(1, 7)) for n in range(1, 13)})
wai_complete = st.fixed_dictionaries({n: st.integers(1, 7) for n in range(1, 13)})

LIMITS = {"total": (list(range(1, 35)), 3), "non_risk": (NON_RISK, 3), "wellbeing": (WELLBEING, 0),
          "problems": (PROBLEMS, 1), "functioning": (FUNCTIONING, 1), "risk": (RISK, 0)}


@settings(max_examples=150, deadline=None)
@given(core_answers)
def test_core_om_scores_stay_in_range_and_respect_limits(answers) -> None:
    s = score_answers(CORE, answers).scores
    for key, (items, limit) in LIMITS.items():
        missing = sum(answers[n] is None for n in items)
        if missing > limit:
            assert s[key] is None and s[f"{key}_clinical"] is None
        else:
            assert 0 <= s[key] <= 4
            assert s[f"{key}_clinical"] == pytest.approx(10 * s[key])
            assert 0 <= s[f"{key}_clinical"] <= 40


@settings(max_examples=150, deadline=None)
@given(core_complete)
def test_core_om_flipping_every_answer_mirrors_every_score(answers) -> None:
    # Reverse scoring is an involution: answering 4 - x everywhere turns each scored value v
    # into 4 - v, so every mean m becomes 4 - m.
    s = score_answers(CORE, answers).scores
    flipped = score_answers(CORE, {n: 4 - v for n, v in answers.items()}).scores
    for key in LIMITS:
        assert flipped[key] == pytest.approx(4 - s[key])


@settings(max_examples=150, deadline=None)
@given(wai_answers)
def test_wai_scores_stay_in_range(answers) -> None:
    s = score_answers(WAI, answers).scores
    for key, items, lo, hi in (("total", range(1, 13), 12, 84), ("task", TASK, 4, 28), ("bond", BOND, 4, 28),
                               ("goal", GOAL, 4, 28)):
        missing = sum(answers[n] is None for n in items)
        if missing > 1:
            assert s[key] is None
        else:
            assert lo - 1e-9 <= s[key] <= hi + 1e-9


@settings(max_examples=150, deadline=None)
@given(wai_complete)
def test_wai_reverse_scoring_symmetry_and_subscales_add_up(answers) -> None:
    s = score_answers(WAI, answers).scores
    flipped = score_answers(WAI, {n: 8 - v for n, v in answers.items()}).scores
    assert flipped["total"] == 8 * 12 - s["total"]
    for key in ("task", "bond", "goal"):
        assert flipped[key] == 8 * 4 - s[key]
    assert s["task"] + s["bond"] + s["goal"] == s["total"]
    by_hand = sum((8 - v) if n in (4, 10) else v for n, v in answers.items())
    assert s["total"] == by_hand
