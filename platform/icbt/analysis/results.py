"""``analyse(dataset, params)``: the whole trial analysis as one JSON-ready dict.

The keys follow DESIGN.md ("Analysis run output"). Everything is computed from the
``TrialDataset`` alone, so two runs on the same data give the same numbers; only
``generated_at`` differs.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from icbt.analysis import stats
from icbt.analysis.dataset import ALLIANCE_PARTS, ParticipantData, TrialDataset

TREATMENT = "treatment"
CONTROL = "waitlist"
ARMS = (TREATMENT, CONTROL)

#: results key -> (dataset attribute, alliance part)
CORRELATION_KEYS: dict[str, tuple[str, str]] = {}
for _source, _prefix in (("wai_week3", "alliance_week3_vs_residual_gain"),
                         ("expected", "expected_alliance_vs_residual_gain")):
    for _part in ALLIANCE_PARTS:
        CORRELATION_KEYS[_prefix if _part == "total" else f"{_prefix}_{_part}"] = (_source, _part)


class ParameterError(ValueError):
    """A parameter is out of range; the message names it."""


@dataclass(frozen=True)
class AnalysisParameters:
    """What a run may vary. Defaults are MEASURES.md's published values."""

    cutoff: float = 10.0  # CORE-OM clinical score (Connell et al. 2007)
    reliable_change: float = 5.0  # clinical-score points
    ci_level: float = 0.95
    include_free_text: bool = False  # exports only; flagged in the codebook when on

    def __post_init__(self) -> None:
        if not 0 < self.cutoff <= 40:
            raise ParameterError("cutoff must be a CORE-OM clinical score between 0 and 40")
        if not 0 < self.reliable_change <= 40:
            raise ParameterError("reliable_change must be between 0 and 40 clinical-score points")
        if not 0.5 <= self.ci_level < 1:
            raise ParameterError("ci_level must be at least 0.5 and below 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AnalysisParameters:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}")
        try:
            kwargs = {
                "cutoff": float(data.get("cutoff", cls.cutoff)),
                "reliable_change": float(data.get("reliable_change", cls.reliable_change)),
                "ci_level": float(data.get("ci_level", cls.ci_level)),
                "include_free_text": bool(data.get("include_free_text", cls.include_free_text)),
            }
        except (TypeError, ValueError) as error:
            raise ParameterError(f"a parameter is not a number: {error}") from None
        return cls(**kwargs)


@dataclass(frozen=True)
class ResidualGains:
    """The treatment arm's regression and each treatment participant's residual gain."""

    fit: stats.Regression
    participants: tuple[ParticipantData, ...]
    residuals: tuple[float | None, ...]


def residual_gains(dataset: TrialDataset) -> ResidualGains:
    treated = tuple(dataset.in_arm(TREATMENT))
    result = stats.residual_gain([p.core_om_pre for p in treated], [p.core_om_post for p in treated])
    return ResidualGains(result.fit, treated, result.residuals)


def is_analysed(p: ParticipantData) -> bool:
    """In the primary analysis: randomised and has a post-treatment CORE-OM score."""
    return p.arm is not None and p.core_om_post is not None


def _descriptives(dataset: TrialDataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm in ARMS:
        members = dataset.in_arm(arm)
        block: dict[str, Any] = {
            "core_om": {
                tp: stats.describe(getattr(p, f"core_om_{tp}") for p in members).as_dict()
                for tp in ("pre", "post")
            },
            "gad7": {"screening": stats.describe(p.gad7_screening for p in members).as_dict()},
            "phq9": {"screening": stats.describe(p.phq9_screening for p in members).as_dict()},
        }
        for part in ALLIANCE_PARTS:
            block[f"wai_{part}"] = {"week3": stats.describe(p.wai_week3.get(part) for p in members).as_dict()}
        for part in ALLIANCE_PARTS:
            block[f"expected_alliance_{part}"] = {"pre": stats.describe(p.expected.get(part) for p in members).as_dict()}
        out[arm] = block
    return out


def analyse(dataset: TrialDataset, params: AnalysisParameters | Mapping[str, Any] | None = None, *,
            software_version: str = "", generated_at: dt.datetime | None = None) -> dict[str, Any]:
    """The full results dict (JSON-ready, no NaN)."""
    if not isinstance(params, AnalysisParameters):
        params = AnalysisParameters.from_dict(params)
    level = params.ci_level
    # A canonical order (by code): floating-point sums then do not depend on load order.
    dataset = dataset.sorted()
    gains = residual_gains(dataset)
    results: dict[str, Any] = {}

    spearman: dict[str, Any] = {}
    for key, (source, part) in CORRELATION_KEYS.items():
        alliance = [getattr(p, source).get(part) for p in gains.participants]
        results[key] = stats.pearson(alliance, list(gains.residuals), level=level).as_dict()
        spearman[key] = stats.spearman(alliance, list(gains.residuals)).as_dict()
    results["residual_gain"] = gains.fit.as_dict()
    results["descriptives"] = _descriptives(dataset)

    treatment = dataset.in_arm(TREATMENT)
    control = dataset.in_arm(CONTROL)
    between = stats.between_group_d([p.core_om_post for p in treatment], [p.core_om_post for p in control], level=level)
    results["between_group"] = {
        **between.as_dict(),
        "outcome": "core_om_post",
        "direction": "positive d favours treatment (lower CORE-OM is better)",
        "ci_method": "Hedges & Olkin (1985) large-sample SE: sqrt((n1+n2)/(n1*n2) + d^2/(2*(n1+n2)))",
    }
    results["within_group"] = {
        arm: stats.within_group_d([p.core_om_pre for p in members], [p.core_om_post for p in members], level=level).as_dict()
        for arm, members in ((TREATMENT, treatment), (CONTROL, control))
    }
    results["within_group"]["method"] = (
        "d_av = (mean pre - mean post) / ((SD pre + SD post) / 2), participants with both values; "
        "d_z = mean change / SD of change"
    )
    results["change_counts"] = {
        arm: stats.change_counts([p.core_om_pre for p in members], [p.core_om_post for p in members],
                                 cutoff=params.cutoff, reliable_change=params.reliable_change).as_dict()
        for arm, members in ((TREATMENT, treatment), (CONTROL, control))
    }
    results["spearman"] = spearman
    results["flow"] = stats.consort_flow(
        (stats.FlowRecord(p.arm, p.assessed, p.excluded, p.started, p.completed_week3, p.completed_post,
                          is_analysed(p)) for p in dataset),
        ARMS,
    )
    results["n_participants"] = len(dataset)
    results["trial"] = dataset.trial_slug
    results["instrument_versions"] = dict(sorted(dataset.instrument_versions.items()))
    results["software_version"] = software_version
    results["data_fingerprint"] = dataset.fingerprint()
    results["generated_at"] = (generated_at or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    results["parameters"] = params.as_dict()
    return results


def numbers_only(results: Mapping[str, Any]) -> dict[str, Any]:
    """The results without the fields that name the moment of the run (for comparing runs)."""
    return {k: v for k, v in results.items() if k != "generated_at"}
