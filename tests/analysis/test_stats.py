"""The statistics against independent computations: SciPy's own routines, the standard
library's ``statistics`` module and closed-form formulas written out here."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from icbt.analysis import stats

# Fixed data: 12 participants (pre, post CORE-OM clinical scores; week-3 WAI totals).
PRE = [18.2, 21.5, 14.7, 25.0, 19.4, 16.8, 22.9, 12.6, 20.3, 17.6, 24.1, 15.9]
POST = [12.1, 15.0, 11.8, 17.6, 9.4, 13.5, 18.2, 10.3, 11.2, 14.9, 16.0, 8.8]
WAI = [61.0, 55.0, 70.0, 48.0, 77.0, 58.0, 52.0, 66.0, 72.0, 50.0, 63.0, 79.0]


def _fisher_ci_by_hand(r: float, n: int) -> tuple[float, float]:
    z = 0.5 * math.log((1 + r) / (1 - r))
    half = statistics.NormalDist().inv_cdf(0.975) / math.sqrt(n - 3)
    return (math.tanh(z - half), math.tanh(z + half))


# ---------------------------------------------------------------- Pearson

def test_pearson_matches_scipy_and_the_fisher_formula() -> None:
    result = stats.pearson(WAI, POST)
    reference = sps.pearsonr(WAI, POST)
    assert result.n == 12
    assert result.r == pytest.approx(reference.statistic, abs=1e-12)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-9)
    ci = reference.confidence_interval(0.95)  # SciPy's Fisher-z interval
    assert result.ci95 == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert result.ci95 == pytest.approx(_fisher_ci_by_hand(reference.statistic, 12), abs=1e-12)
    assert result.reason is None


def test_pearson_closed_form_r_and_t_test_p() -> None:
    x, y = WAI, PRE
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    r = sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))
    t = r * math.sqrt((n - 2) / (1 - r * r))
    p = 2 * sps.t.sf(abs(t), n - 2)
    result = stats.pearson(x, y)
    assert result.r == pytest.approx(r, abs=1e-12)
    assert result.p == pytest.approx(p, rel=1e-9)


def test_pairwise_deletion_uses_only_complete_pairs_and_reports_its_own_n() -> None:
    x = list(WAI)
    y = list(POST)
    x[0] = None
    y[3] = None
    y[5] = float("nan")
    keep = [i for i in range(12) if i not in (0, 3, 5)]
    result = stats.pearson(x, y)
    reference = sps.pearsonr([WAI[i] for i in keep], [POST[i] for i in keep])
    assert result.n == 9
    assert result.r == pytest.approx(reference.statistic, abs=1e-12)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    "x, y, reason",
    [
        ([1.0, 2.0], [3.0, 1.0], "fewer than 3"),
        ([None, None, None, None], [1.0, 2.0, 3.0, 4.0], "fewer than 3"),
        ([], [], "fewer than 3"),
        ([5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0], "no variance in the first"),
        ([1.0, 2.0, 3.0, 4.0], [7.0, 7.0, 7.0, 7.0], "no variance in the second"),
    ],
)
def test_pearson_edge_cases_give_none_with_a_reason(x, y, reason) -> None:  # type: ignore[no-untyped-def]
    result = stats.pearson(x, y)
    assert result.r is None and result.p is None and result.ci95 == (None, None)
    assert reason in (result.reason or "")
    assert result.n == sum(1 for a, b in zip(x, y) if a is not None and b is not None)
    as_json = result.as_dict()
    assert as_json["ci95"] == [None, None] and as_json["reason"]


def test_pearson_with_three_pairs_has_r_and_p_but_no_interval() -> None:
    result = stats.pearson([1.0, 2.0, 4.0], [2.0, 1.0, 5.0])
    reference = sps.pearsonr([1.0, 2.0, 4.0], [2.0, 1.0, 5.0])
    assert result.r == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    assert result.ci95 == (None, None) and "at least 4" in (result.reason or "")


def test_perfect_correlation_is_finite() -> None:
    result = stats.pearson([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    assert result.r == pytest.approx(1.0)
    assert result.p == 0.0
    assert result.ci95 == pytest.approx((1.0, 1.0))


# ---------------------------------------------------------------- Spearman

def test_spearman_matches_scipy_with_ties() -> None:
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0]
    y = [2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0, 2.0, 8.0]
    result = stats.spearman(x, y)
    reference = sps.spearmanr(x, y)
    assert result.rho == pytest.approx(reference.statistic, abs=1e-12)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.n == 10


def test_spearman_without_ties_equals_the_rank_difference_formula() -> None:
    n = len(WAI)
    rank_x = {v: i + 1 for i, v in enumerate(sorted(WAI))}
    rank_y = {v: i + 1 for i, v in enumerate(sorted(POST))}
    d2 = sum((rank_x[a] - rank_y[b]) ** 2 for a, b in zip(WAI, POST))
    rho = 1 - 6 * d2 / (n * (n * n - 1))
    assert stats.spearman(WAI, POST).rho == pytest.approx(rho, abs=1e-12)


def test_spearman_edge_cases() -> None:
    assert stats.spearman([1.0, None], [2.0, 3.0]).rho is None
    flat = stats.spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert flat.rho is None and "no variance" in (flat.reason or "")


# ---------------------------------------------------------------- residual gain

def test_residual_gain_matches_linregress_and_the_definition() -> None:
    result = stats.residual_gain(PRE, POST)
    reference = sps.linregress(PRE, POST)
    assert result.fit.n == 12
    assert result.fit.slope == pytest.approx(reference.slope, abs=1e-12)
    assert result.fit.intercept == pytest.approx(reference.intercept, abs=1e-10)
    assert result.fit.r2 == pytest.approx(reference.rvalue ** 2, abs=1e-12)
    for pre, post, residual in zip(PRE, POST, result.residuals):
        assert residual == pytest.approx(post - (reference.intercept + reference.slope * pre), abs=1e-10)
    # OLS residuals sum to zero and are uncorrelated with the predictor.
    assert sum(result.residuals) == pytest.approx(0.0, abs=1e-9)  # type: ignore[arg-type]
    assert float(np.dot(result.residuals, np.asarray(PRE) - np.mean(PRE))) == pytest.approx(0.0, abs=1e-8)


def test_residual_gain_keeps_positions_of_missing_values() -> None:
    pre = PRE[:6] + [None]
    post = POST[:6] + [10.0]
    pre[2] = None
    result = stats.residual_gain(pre, post)
    keep = [0, 1, 3, 4, 5]
    reference = sps.linregress([PRE[i] for i in keep], [POST[i] for i in keep])
    assert result.fit.n == 5
    assert result.residuals[2] is None and result.residuals[6] is None
    assert result.residuals[3] == pytest.approx(POST[3] - reference.intercept - reference.slope * PRE[3])


@pytest.mark.parametrize(
    "pre, post, reason",
    [
        ([10.0, 20.0], [5.0, 6.0], "fewer than 3"),
        ([None, None, None], [1.0, 2.0, 3.0], "fewer than 3"),
        ([15.0, 15.0, 15.0, 15.0], [1.0, 5.0, 3.0, 2.0], "no variance"),
    ],
)
def test_residual_gain_edge_cases(pre, post, reason) -> None:  # type: ignore[no-untyped-def]
    result = stats.residual_gain(pre, post)
    assert result.fit.slope is None and result.fit.intercept is None
    assert reason in (result.fit.reason or "")
    assert all(r is None for r in result.residuals)


def test_fitted_band_equals_the_matrix_formula_for_the_mean_response() -> None:
    line = stats.fitted_line_with_band(WAI, POST, points=7)
    assert line is not None
    x = np.column_stack([np.ones(12), WAI])
    y = np.asarray(POST)
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    s2 = float(np.sum((y - x @ beta) ** 2)) / (12 - 2)
    cov = s2 * np.linalg.inv(x.T @ x)
    t = sps.t.ppf(0.975, 10)
    for x0, fit, lo, hi in zip(line.grid, line.fitted, line.lower, line.upper):
        v = np.array([1.0, x0])
        se = math.sqrt(float(v @ cov @ v))
        assert fit == pytest.approx(float(v @ beta))
        assert lo == pytest.approx(fit - t * se) and hi == pytest.approx(fit + t * se)
    assert stats.fitted_line_with_band([1.0, 2.0], [1.0, 2.0]) is None


# ---------------------------------------------------------------- descriptives

def test_describe_matches_the_standard_library() -> None:
    values = PRE + [None, float("nan")]
    result = stats.describe(values)
    assert result.n == 12
    assert result.mean == pytest.approx(statistics.mean(PRE))
    assert result.sd == pytest.approx(statistics.stdev(PRE))


def test_describe_edge_cases() -> None:
    assert stats.describe([]).as_dict() == {"n": 0, "mean": None, "sd": None, "reason": "no values"}
    one = stats.describe([None, 12.5])
    assert one.n == 1 and one.mean == 12.5 and one.sd is None and one.reason
    flat = stats.describe([3.0, 3.0, 3.0])
    assert flat.sd == 0.0


# ---------------------------------------------------------------- between-group d

def test_between_group_d_and_its_hedges_olkin_interval() -> None:
    treatment, control = POST, PRE  # "control" higher (worse) -> positive d
    n1, n2 = len(treatment), len(control)
    s1, s2 = statistics.stdev(treatment), statistics.stdev(control)
    sp = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / (n1 + n2 - 2))
    d = (statistics.mean(control) - statistics.mean(treatment)) / sp
    se = math.sqrt(1 / n1 + 1 / n2 + d ** 2 / (2 * (n1 + n2)))
    z = statistics.NormalDist().inv_cdf(0.975)
    result = stats.between_group_d(treatment, control)
    assert result.d == pytest.approx(d, abs=1e-12) and result.d > 0
    assert result.se == pytest.approx(se, abs=1e-12)
    assert result.ci95 == pytest.approx((d - z * se, d + z * se), abs=1e-12)
    assert result.hedges_g == pytest.approx(d * (1 - 3 / (4 * (n1 + n2) - 9)))
    assert (result.n_treatment, result.n_control) == (12, 12)
    # Cohen's d is the two-sample t statistic rescaled: t = d / sqrt(1/n1 + 1/n2).
    t = sps.ttest_ind(control, treatment).statistic
    assert result.d == pytest.approx(t * math.sqrt(1 / n1 + 1 / n2), abs=1e-12)


def test_hedges_olkin_interval_agrees_with_the_exact_noncentral_t_interval_for_large_arms() -> None:
    rng = np.random.default_rng(5)
    treatment = rng.normal(12, 6, 150)
    control = rng.normal(15, 6, 140)
    result = stats.between_group_d(treatment, control)
    n1, n2 = 150, 140
    factor = math.sqrt(1 / n1 + 1 / n2)
    t_obs = result.d / factor
    df = n1 + n2 - 2
    from scipy.optimize import brentq

    lo = brentq(lambda nc: sps.nct.sf(t_obs, df, nc) - 0.025, -20, 20) * factor
    hi = brentq(lambda nc: sps.nct.cdf(t_obs, df, nc) - 0.025, -20, 20) * factor
    assert result.ci95[0] == pytest.approx(lo, abs=0.01)
    assert result.ci95[1] == pytest.approx(hi, abs=0.01)


def test_between_group_edge_cases() -> None:
    small = stats.between_group_d([10.0], [12.0, 14.0])
    assert small.d is None and small.ci95 == (None, None) and small.n_treatment == 1 and small.reason
    flat = stats.between_group_d([10.0, 10.0], [10.0, 10.0, 10.0])
    assert flat.d is None and "no variance" in (flat.reason or "")
    empty = stats.between_group_d([], [None])
    assert empty.d is None and empty.n_treatment == 0 and empty.n_control == 0


# ---------------------------------------------------------------- within-group d

def test_within_group_d_av_d_z_and_the_paired_interval() -> None:
    result = stats.within_group_d(PRE, POST)
    change = [a - b for a, b in zip(PRE, POST)]
    d_av = statistics.mean(change) / ((statistics.stdev(PRE) + statistics.stdev(POST)) / 2)
    d_z = statistics.mean(change) / statistics.stdev(change)
    assert result.n == 12
    assert result.d_av == pytest.approx(d_av, abs=1e-12)
    assert result.d_z == pytest.approx(d_z, abs=1e-12)
    assert result.r_pre_post == pytest.approx(statistics.correlation(PRE, POST), abs=1e-12)
    ci = sps.ttest_rel(PRE, POST).confidence_interval(0.95)
    assert result.ci95_mean_change == pytest.approx((ci.low, ci.high), abs=1e-10)
    assert result.mean_change == pytest.approx(statistics.mean(change))


def test_within_group_uses_participants_with_both_values() -> None:
    result = stats.within_group_d(PRE[:5] + [None, 20.0], POST[:5] + [10.0, None])
    assert result.n == 5
    assert result.mean_pre == pytest.approx(statistics.mean(PRE[:5]))


def test_within_group_edge_cases() -> None:
    assert stats.within_group_d([10.0], [5.0]).d_av is None
    flat = stats.within_group_d([10.0, 10.0, 10.0], [10.0, 10.0, 10.0])
    assert flat.d_av is None and flat.d_z is None and flat.reason
    assert stats.within_group_d([], []).reason


# ---------------------------------------------------------------- change categories

def _clinical(items: list[int]) -> float:
    return sum(items) / len(items) * 10


def test_change_counts_follow_jacobson_truax_with_the_published_thresholds() -> None:
    # (pre, post): improvement 5 exactly, crossing the cut-off -> reliable and clinically significant
    cases = [
        (15.0, 10.0),  # change 5: reliable; post 10 is still at the cut-off -> not CSI
        (15.0, 9.9),  # reliable and crosses below 10 -> CSI
        (12.0, 8.0),  # crosses below 10 but change 4 -> not reliable
        (8.0, 2.0),  # reliable but started below the cut-off -> not CSI
        (10.0, 16.0),  # reliable deterioration
        (20.0, 16.0),  # no reliable change
        (None, 3.0),  # missing pre: not counted
    ]
    result = stats.change_counts([c[0] for c in cases], [c[1] for c in cases])
    assert result.n == 6
    assert result.reliable_improvement == 3
    assert result.reliable_deterioration == 1
    assert result.no_reliable_change == 2
    assert result.clinically_significant_improvement == 1
    assert result.at_or_above_cutoff_pre == 5
    assert result.below_cutoff_post == 3


def test_change_counts_are_not_fooled_by_floating_point_means() -> None:
    # Clinical scores from item means: 27/34*10 - 10/34*10 is exactly 5 on paper but
    # 4.999999999999999 in binary floating point.
    pre = _clinical([1] * 27 + [0] * 7)
    post = _clinical([1] * 10 + [0] * 24)
    assert pre - post < 5.0
    result = stats.change_counts([pre], [post])
    assert result.reliable_improvement == 1


def test_change_counts_with_other_thresholds_and_no_data() -> None:
    result = stats.change_counts([15.0, 15.0], [9.0, 12.0], cutoff=11.0, reliable_change=3.0)
    assert result.reliable_improvement == 2 and result.clinically_significant_improvement == 1
    empty = stats.change_counts([], [])
    assert empty.n == 0 and empty.reason


# ---------------------------------------------------------------- flow

def test_consort_flow_counts() -> None:
    R = stats.FlowRecord
    records = [
        R(None, False, False, False, False, False, False),  # applicant, not yet assessed
        R(None, True, True, False, False, False, False),  # excluded
        R(None, True, False, False, False, False, False),  # eligible, waiting
        R("treatment", True, False, True, True, True, True),
        R("treatment", True, False, True, True, False, False),
        R("treatment", True, False, False, False, False, False),
        R("waitlist", True, False, True, False, True, True),
        R("waitlist", True, False, True, False, False, False),
    ]
    flow = stats.consort_flow(records)
    assert flow["assessed"] == 7 and flow["excluded"] == 1 and flow["randomised"] == 5
    assert flow["allocated"] == {"treatment": 3, "waitlist": 2}
    assert flow["started"] == {"treatment": 2, "waitlist": 2}
    assert flow["completed_week3"] == {"treatment": 2, "waitlist": 0}
    assert flow["completed_post"] == {"treatment": 1, "waitlist": 1}
    assert flow["analysed"] == {"treatment": 1, "waitlist": 1}
    assert stats.consort_flow([])["randomised"] == 0
