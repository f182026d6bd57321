"""``analyse`` end to end on constructed trials, and the paper-style formatting."""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from icbt.analysis import apa
from icbt.analysis.dataset import AllianceScores, ParticipantData, TrialDataset
from icbt.analysis.results import CORRELATION_KEYS, AnalysisParameters, ParameterError, analyse, numbers_only


def with_exact_correlation(target: np.ndarray, r: float, rng: np.random.Generator, mean: float, sd: float) -> np.ndarray:
    """Values whose sample correlation with ``target`` is exactly ``r``."""
    t = (target - target.mean()) / target.std()
    z = rng.normal(size=target.size)
    z = z - z.mean()
    z = z - (z @ t) / (t @ t) * t  # orthogonal to the target
    z = z / z.std()
    return mean + sd * (r * t + math.sqrt(1 - r * r) * z)


def pilot_like_trial(r_week3: float = -0.4655, r_expected: float = -0.166, seed: int = 3) -> TrialDataset:
    """A treatment arm of 29: 25 with week-3 WAI, 27 with expected alliance; a waitlist of 20."""
    rng = np.random.default_rng(seed)
    n = 29
    pre = rng.normal(18, 5, n)
    post = 0.6 * pre + rng.normal(2, 4, n)
    fit = sps.linregress(pre, post)
    residual = post - (fit.intercept + fit.slope * pre)
    week3_idx = np.arange(25)
    expected_idx = np.arange(2, 29)
    wai = np.full(n, np.nan)
    wai[week3_idx] = with_exact_correlation(residual[week3_idx], r_week3, rng, 62, 9)
    exp = np.full(n, np.nan)
    exp[expected_idx] = with_exact_correlation(residual[expected_idx], r_expected, rng, 60, 8)
    people = []
    for i in range(n):
        people.append(ParticipantData(
            code=f"T{i:03d}", arm="treatment", core_om_pre=float(pre[i]), core_om_post=float(post[i]),
            wai_week3=AllianceScores(total=None if np.isnan(wai[i]) else float(wai[i]),
                                     task=None if np.isnan(wai[i]) else float(wai[i]) / 3),
            expected=AllianceScores(total=None if np.isnan(exp[i]) else float(exp[i])),
            assessed=True, started=True, completed_week3=not np.isnan(wai[i]), completed_post=True,
        ))
    for i in range(20):
        p0 = float(rng.normal(18, 5))
        people.append(ParticipantData(code=f"W{i:03d}", arm="waitlist", core_om_pre=p0,
                                      core_om_post=p0 + float(rng.normal(-0.5, 3)) if i < 18 else None,
                                      assessed=True, started=True, completed_post=i < 18))
    people.append(ParticipantData(code="X001", arm=None, assessed=True, excluded=True))
    return TrialDataset("pilot", people, {"core_om": "1", "wai_s": "1"})


def test_the_pilot_reproduces_in_the_published_format() -> None:
    results = analyse(pilot_like_trial(), software_version="0.1.0")
    week3 = results["alliance_week3_vs_residual_gain"]
    expected = results["expected_alliance_vs_residual_gain"]
    assert week3["n"] == 25 and expected["n"] == 27
    assert week3["r"] == pytest.approx(-0.4655, abs=1e-9)
    assert apa.correlation(week3) == "r = -.47, p = .019, n = 25"
    assert apa.correlation(expected) == "r = -.17, p = .41, n = 27"
    # p from the t distribution, computed here independently
    t = -0.4655 * math.sqrt(23 / (1 - 0.4655 ** 2))
    assert week3["p"] == pytest.approx(2 * sps.t.sf(abs(t), 23), rel=1e-6)


def test_results_have_the_contract_keys_and_are_json_without_nan() -> None:
    results = analyse(pilot_like_trial())
    for key in ("alliance_week3_vs_residual_gain", "expected_alliance_vs_residual_gain",
                "alliance_week3_vs_residual_gain_goal", "alliance_week3_vs_residual_gain_task",
                "alliance_week3_vs_residual_gain_bond", "expected_alliance_vs_residual_gain_goal",
                "expected_alliance_vs_residual_gain_task", "expected_alliance_vs_residual_gain_bond"):
        assert set(results[key]) >= {"r", "p", "n", "ci95"}
        assert len(results[key]["ci95"]) == 2
        assert key in results["spearman"]
    assert set(results["residual_gain"]) >= {"slope", "intercept", "n"}
    assert set(results["between_group"]) >= {"d", "ci95", "n_treatment", "n_control"}
    for key in ("descriptives", "within_group", "change_counts", "flow", "software_version",
                "data_fingerprint", "generated_at", "parameters"):
        assert key in results
    json.dumps(results, allow_nan=False)
    # subscales with no data give None and a reason, not an error
    assert results["alliance_week3_vs_residual_gain_goal"]["r"] is None
    assert results["alliance_week3_vs_residual_gain_goal"]["reason"]
    # the task subscale is the total / 3 here: the same r
    assert results["alliance_week3_vs_residual_gain_task"]["r"] == pytest.approx(
        results["alliance_week3_vs_residual_gain"]["r"])


def test_the_numbers_follow_from_the_data_independently() -> None:
    dataset = pilot_like_trial()
    results = analyse(dataset)
    treated = [p for p in dataset if p.arm == "treatment"]
    control = [p for p in dataset if p.arm == "waitlist"]
    fit = sps.linregress([p.core_om_pre for p in treated], [p.core_om_post for p in treated])
    assert results["residual_gain"]["slope"] == pytest.approx(fit.slope)
    assert results["residual_gain"]["n"] == 29
    post_t = [p.core_om_post for p in treated]
    post_c = [p.core_om_post for p in control if p.core_om_post is not None]
    sp = math.sqrt(((len(post_t) - 1) * np.var(post_t, ddof=1) + (len(post_c) - 1) * np.var(post_c, ddof=1))
                   / (len(post_t) + len(post_c) - 2))
    assert results["between_group"]["d"] == pytest.approx((np.mean(post_c) - np.mean(post_t)) / sp)
    assert results["between_group"]["n_control"] == 18
    desc = results["descriptives"]["waitlist"]["core_om"]["post"]
    assert desc["n"] == 18 and desc["mean"] == pytest.approx(np.mean(post_c))
    assert results["descriptives"]["treatment"]["wai_total"]["week3"]["n"] == 25
    flow = results["flow"]
    assert flow["assessed"] == 50 and flow["excluded"] == 1 and flow["randomised"] == 49
    assert flow["allocated"] == {"treatment": 29, "waitlist": 20}
    assert flow["completed_week3"] == {"treatment": 25, "waitlist": 0}
    assert flow["analysed"] == {"treatment": 29, "waitlist": 18}


def test_two_runs_give_the_same_numbers_and_the_fingerprint_tracks_the_data() -> None:
    dataset = pilot_like_trial()
    first = analyse(dataset, generated_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    second = analyse(TrialDataset("pilot", list(reversed(dataset.participants)), dict(dataset.instrument_versions)))
    assert numbers_only(first) == numbers_only(second)
    assert first["generated_at"] == "2026-01-01T00:00:00+00:00"
    changed = list(dataset.participants)
    changed[0] = ParticipantData(**{**{f: getattr(changed[0], f) for f in changed[0].__slots__}, "core_om_post": 1.0})
    assert analyse(TrialDataset("pilot", changed, dataset.instrument_versions))["data_fingerprint"] != first["data_fingerprint"]
    assert first["data_fingerprint"].startswith("sha256:") and len(first["data_fingerprint"]) == 71


def test_an_empty_trial_gives_reasons_not_errors() -> None:
    results = analyse(TrialDataset("empty"))
    json.dumps(results, allow_nan=False)
    for key in CORRELATION_KEYS:
        assert results[key]["r"] is None and results[key]["n"] == 0 and results[key]["reason"]
    assert results["residual_gain"]["slope"] is None
    assert results["between_group"]["d"] is None
    assert results["flow"]["randomised"] == 0


def test_parameters_are_validated_and_recorded() -> None:
    results = analyse(pilot_like_trial(), {"cutoff": 12, "reliable_change": 4})
    assert results["parameters"] == {"cutoff": 12.0, "reliable_change": 4.0, "ci_level": 0.95, "include_free_text": False}
    with pytest.raises(ParameterError, match="unknown"):
        AnalysisParameters.from_dict({"cut_off": 10})
    with pytest.raises(ParameterError, match="cutoff"):
        AnalysisParameters.from_dict({"cutoff": -1})
    with pytest.raises(ParameterError, match="not a number"):
        AnalysisParameters.from_dict({"ci_level": "high"})


@pytest.mark.parametrize(
    "value, text",
    [(-0.4655, "-.47"), (0.05, ".05"), (-0.001, ".00"), (1.0, "1.00"), (None, "–")],
)
def test_no_leading_zero(value, text) -> None:  # type: ignore[no-untyped-def]
    assert apa.no_leading_zero(value) == text


@pytest.mark.parametrize(
    "p, text",
    [(0.019028, "= .019"), (0.4166, "= .42"), (0.0004, "< .001"), (0.00049, "< .001"),
     (0.0012, "= .001"), (0.0996, "= .10"), (0.0494, "= .049"), (0.996, "> .99"), (None, "–")],
)
def test_p_values(p, text) -> None:  # type: ignore[no-untyped-def]
    assert apa.p_value(p) == text


def test_correlation_sentence_with_interval_and_missing() -> None:
    result = {"r": -0.4655, "p": 0.019, "n": 25, "ci95": [-0.7269, -0.0862]}
    assert apa.correlation(result, with_ci=True) == "r = -.47, p = .019, n = 25, 95% CI [-.73, -.09]"
    assert apa.correlation({"r": None, "p": None, "n": 2}) == "r not computed, n = 2"
    assert apa.correlation({"rho": 0.31, "p": 0.0004, "n": 100}, letter="rho") == "rho = .31, p < .001, n = 100"
