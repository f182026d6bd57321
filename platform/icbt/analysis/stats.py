"""The trial's statistics: pure functions over plain sequences (NumPy/SciPy), no database.

Every function accepts sequences that may contain ``None`` (or NaN) for a missing value and
returns a small frozen result whose ``as_dict()`` is JSON-ready. When a statistic cannot be
computed (too few values, no variance, everything missing) the numbers are ``None`` and
``reason`` says why, in words: the results never contain NaN or infinity.

Conventions (CORE-OM: higher = worse):
- residual gain = observed post - predicted post, from the OLS regression of post on pre within
  the treatment arm; lower is better.
- between-group d = (mean control - mean treatment) / pooled SD on post CORE-OM: positive favours
  treatment. 95% CI from the Hedges & Olkin (1985) large-sample standard error
  ``sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2)))``.
- within-group d is d_av (Cumming 2012; Lakens 2013): (mean pre - mean post) / ((SD pre + SD post) / 2)
  over participants with both values; positive = improvement. d_av standardises by the SDs of the
  scores themselves, as the between-group d does, so the two are on the same scale; d_z (change
  divided by the SD of the change) depends on the pre-post correlation and is larger whenever
  that correlation is high, so it is reported beside d_av but not as the headline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import stats as sps

Number = float | int | None

Z_975 = float(sps.norm.ppf(0.975))  # 1.959963984540054


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clean_values(values: Iterable[Number]) -> np.ndarray:
    """The present, finite values as a float array (``None`` and NaN dropped)."""
    present = [v for v in (_as_float(x) for x in values) if v is not None]
    return np.asarray(present, dtype=float)


def complete_pairs(x: Sequence[Number], y: Sequence[Number]) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise deletion: the pairs where both values are present."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    xs: list[float] = []
    ys: list[float] = []
    for a, b in zip(x, y):
        fa, fb = _as_float(a), _as_float(b)
        if fa is not None and fb is not None:
            xs.append(fa)
            ys.append(fb)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _no_variance(values: np.ndarray) -> bool:
    # Exactly equal values, or differences at rounding level relative to the values.
    if values.size == 0:
        return True
    spread = float(np.ptp(values))
    scale = max(1.0, float(np.max(np.abs(values))))
    return spread <= 1e-12 * scale


class _Result:
    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)  # type: ignore[call-overload]
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


# ---------------------------------------------------------------- correlation

@dataclass(frozen=True)
class Correlation(_Result):
    r: float | None
    p: float | None
    n: int
    ci95: tuple[float | None, float | None]
    reason: str | None = None


def _pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    xm = x - x.mean()
    ym = y - y.mean()
    r = float(np.dot(xm, ym) / math.sqrt(float(np.dot(xm, xm)) * float(np.dot(ym, ym))))
    return max(-1.0, min(1.0, r))


def correlation_p(r: float, n: int) -> float:
    """Two-sided p of H0: rho = 0 from the t distribution with n - 2 df."""
    df = n - 2
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(df / (1.0 - r * r))
    return float(2.0 * sps.t.sf(abs(t), df))


def fisher_ci(r: float, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Fisher z interval: tanh(atanh(r) -/+ z_(1-a/2) / sqrt(n - 3)). None when n < 4."""
    if n < 4:
        return None
    if abs(r) >= 1.0:
        return (r, r)
    z = math.atanh(r)
    half = float(sps.norm.ppf(0.5 + level / 2.0)) / math.sqrt(n - 3)
    return (math.tanh(z - half), math.tanh(z + half))


def pearson(x: Sequence[Number], y: Sequence[Number], *, level: float = 0.95) -> Correlation:
    """Pearson r with two-sided p, n (pairwise deletion) and the Fisher-z CI."""
    xs, ys = complete_pairs(x, y)
    n = int(xs.size)
    if n < 3:
        return Correlation(None, None, n, (None, None), f"fewer than 3 participants with both values (n = {n})")
    if _no_variance(xs):
        return Correlation(None, None, n, (None, None), "no variance in the first variable")
    if _no_variance(ys):
        return Correlation(None, None, n, (None, None), "no variance in the second variable")
    r = _pearson_r(xs, ys)
    p = correlation_p(r, n)
    ci = fisher_ci(r, n, level)
    if ci is None:
        return Correlation(r, p, n, (None, None), "confidence interval needs at least 4 participants")
    return Correlation(r, p, n, ci)


@dataclass(frozen=True)
class RankCorrelation(_Result):
    rho: float | None
    p: float | None
    n: int
    reason: str | None = None


def spearman(x: Sequence[Number], y: Sequence[Number]) -> RankCorrelation:
    """Spearman's rho (Pearson r of mid-ranks, so ties are handled) with the t-approximation p."""
    xs, ys = complete_pairs(x, y)
    n = int(xs.size)
    if n < 3:
        return RankCorrelation(None, None, n, f"fewer than 3 participants with both values (n = {n})")
    if _no_variance(xs):
        return RankCorrelation(None, None, n, "no variance in the first variable")
    if _no_variance(ys):
        return RankCorrelation(None, None, n, "no variance in the second variable")
    rx = sps.rankdata(xs)
    ry = sps.rankdata(ys)
    rho = _pearson_r(rx, ry)
    return RankCorrelation(rho, correlation_p(rho, n), n)


# ---------------------------------------------------------------- residual gain

@dataclass(frozen=True)
class Regression(_Result):
    slope: float | None
    intercept: float | None
    n: int
    r2: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ResidualGain:
    """The OLS fit of post on pre and each participant's residual (None where not computable)."""

    fit: Regression
    residuals: tuple[float | None, ...]


def residual_gain(pre: Sequence[Number], post: Sequence[Number]) -> ResidualGain:
    """Regress post on pre (OLS, complete pairs); residual = observed post - predicted post.

    ``residuals`` lines up with the input: ``None`` where pre or post is missing, or when the
    regression cannot be fitted (fewer than 3 complete pairs, no variance in pre).
    """
    if len(pre) != len(post):
        raise ValueError("pre and post differ in length")
    xs, ys = complete_pairs(pre, post)
    n = int(xs.size)
    none = tuple(None for _ in pre)
    if n < 3:
        return ResidualGain(Regression(None, None, n, None, f"fewer than 3 participants with pre and post (n = {n})"), none)
    if _no_variance(xs):
        return ResidualGain(Regression(None, None, n, None, "no variance in the pre-treatment scores"), none)
    design = np.column_stack([np.ones(n), xs])
    (intercept, slope), *_ = np.linalg.lstsq(design, ys, rcond=None)
    fitted = intercept + slope * xs
    ss_res = float(np.sum((ys - fitted) ** 2))
    ss_tot = float(np.sum((ys - ys.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else None
    residuals: list[float | None] = []
    for a, b in zip(pre, post):
        fa, fb = _as_float(a), _as_float(b)
        residuals.append(None if fa is None or fb is None else fb - (float(intercept) + float(slope) * fa))
    return ResidualGain(Regression(float(slope), float(intercept), n, r2), tuple(residuals))


@dataclass(frozen=True)
class FittedLine:
    """A least-squares line of y on x with the 95% confidence band of the mean at ``grid``."""

    slope: float
    intercept: float
    grid: tuple[float, ...]
    fitted: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def fitted_line_with_band(x: Sequence[Number], y: Sequence[Number], *, points: int = 50,
                          level: float = 0.95) -> FittedLine | None:
    """OLS line and pointwise CI of the mean: yhat +/- t * s * sqrt(1/n + (x0 - xbar)^2 / Sxx)."""
    xs, ys = complete_pairs(x, y)
    n = int(xs.size)
    if n < 3 or _no_variance(xs):
        return None
    xbar = float(xs.mean())
    sxx = float(np.sum((xs - xbar) ** 2))
    slope = float(np.sum((xs - xbar) * (ys - ys.mean())) / sxx)
    intercept = float(ys.mean() - slope * xbar)
    s = math.sqrt(float(np.sum((ys - intercept - slope * xs) ** 2)) / (n - 2))
    t = float(sps.t.ppf(0.5 + level / 2.0, n - 2))
    grid = np.linspace(float(xs.min()), float(xs.max()), points)
    fitted = intercept + slope * grid
    half = t * s * np.sqrt(1.0 / n + (grid - xbar) ** 2 / sxx)
    return FittedLine(slope, intercept, tuple(map(float, grid)), tuple(map(float, fitted)),
                      tuple(map(float, fitted - half)), tuple(map(float, fitted + half)))


# ---------------------------------------------------------------- descriptives

@dataclass(frozen=True)
class Descriptive(_Result):
    n: int
    mean: float | None
    sd: float | None
    reason: str | None = None


def describe(values: Iterable[Number]) -> Descriptive:
    """n, mean and SD (n - 1 denominator) of the present values."""
    xs = clean_values(values)
    n = int(xs.size)
    if n == 0:
        return Descriptive(0, None, None, "no values")
    mean = float(xs.mean())
    if n < 2:
        return Descriptive(n, mean, None, "SD needs at least 2 values")
    return Descriptive(n, mean, float(xs.std(ddof=1)))


# ---------------------------------------------------------------- effect sizes

@dataclass(frozen=True)
class BetweenGroupD(_Result):
    d: float | None
    ci95: tuple[float | None, float | None]
    n_treatment: int
    n_control: int
    mean_treatment: float | None = None
    mean_control: float | None = None
    sd_pooled: float | None = None
    se: float | None = None
    hedges_g: float | None = None
    reason: str | None = None


def between_group_d(treatment: Iterable[Number], control: Iterable[Number], *, level: float = 0.95) -> BetweenGroupD:
    """Cohen's d = (mean control - mean treatment) / pooled SD; positive favours treatment when
    lower scores are better. CI: d -/+ z * SE with the Hedges & Olkin large-sample
    SE = sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2))). Hedges' g = d (1 - 3 / (4 (n1 + n2) - 9))."""
    t = clean_values(treatment)
    c = clean_values(control)
    n1, n2 = int(t.size), int(c.size)
    m1 = float(t.mean()) if n1 else None
    m2 = float(c.mean()) if n2 else None
    if n1 < 2 or n2 < 2:
        return BetweenGroupD(None, (None, None), n1, n2, m1, m2,
                             reason="each arm needs at least 2 participants with a post-treatment score")
    pooled_var = ((n1 - 1) * float(t.var(ddof=1)) + (n2 - 1) * float(c.var(ddof=1))) / (n1 + n2 - 2)
    if pooled_var <= 0:
        return BetweenGroupD(None, (None, None), n1, n2, m1, m2, reason="no variance within the arms")
    sp = math.sqrt(pooled_var)
    assert m1 is not None and m2 is not None
    d = (m2 - m1) / sp
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2.0 * (n1 + n2)))
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    g = d * (1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0))
    return BetweenGroupD(d, (d - z * se, d + z * se), n1, n2, m1, m2, sp, se, g)


@dataclass(frozen=True)
class WithinGroupD(_Result):
    n: int
    mean_pre: float | None = None
    mean_post: float | None = None
    sd_pre: float | None = None
    sd_post: float | None = None
    d_av: float | None = None
    d_z: float | None = None
    r_pre_post: float | None = None
    mean_change: float | None = None
    ci95_mean_change: tuple[float | None, float | None] = (None, None)
    reason: str | None = None


def within_group_d(pre: Sequence[Number], post: Sequence[Number], *, level: float = 0.95) -> WithinGroupD:
    """Pre-post effect over participants with both values; change = pre - post (positive =
    improvement when lower is better). d_av = mean change / ((SD pre + SD post) / 2);
    d_z = mean change / SD of the change; the mean change has a paired-t CI."""
    xs, ys = complete_pairs(pre, post)
    n = int(xs.size)
    if n < 2:
        return WithinGroupD(n, reason=f"fewer than 2 participants with pre and post (n = {n})")
    diff = xs - ys
    mean_pre, mean_post = float(xs.mean()), float(ys.mean())
    sd_pre, sd_post = float(xs.std(ddof=1)), float(ys.std(ddof=1))
    mean_change = float(diff.mean())
    sd_diff = float(diff.std(ddof=1))
    avg_sd = (sd_pre + sd_post) / 2.0
    d_av = mean_change / avg_sd if avg_sd > 0 else None
    d_z = mean_change / sd_diff if sd_diff > 0 else None
    r = None if _no_variance(xs) or _no_variance(ys) else _pearson_r(xs, ys)
    half = float(sps.t.ppf(0.5 + level / 2.0, n - 1)) * sd_diff / math.sqrt(n)
    reason = None if d_av is not None else "no variance in the scores"
    return WithinGroupD(n, mean_pre, mean_post, sd_pre, sd_post, d_av, d_z, r, mean_change,
                        (mean_change - half, mean_change + half), reason)


# ---------------------------------------------------------------- change categories

@dataclass(frozen=True)
class ChangeCounts(_Result):
    n: int
    reliable_improvement: int
    reliable_deterioration: int
    no_reliable_change: int
    clinically_significant_improvement: int
    at_or_above_cutoff_pre: int
    below_cutoff_post: int
    reason: str | None = None


def change_counts(pre: Sequence[Number], post: Sequence[Number], *, cutoff: float = 10.0,
                  reliable_change: float = 5.0) -> ChangeCounts:
    """Jacobson & Truax categories on the CORE-OM clinical score (higher = worse).

    Reliable improvement: pre - post >= ``reliable_change``; reliable deterioration:
    post - pre >= ``reliable_change``. Clinically significant improvement: reliable improvement
    and pre >= ``cutoff`` and post < ``cutoff``. Differences are compared after rounding to
    9 decimals, so a clinical score of 20 - 15 computed from item means counts as 5.
    """
    xs, ys = complete_pairs(pre, post)
    n = int(xs.size)
    improve = deteriorate = csi = above_pre = below_post = 0
    for a, b in zip(xs.tolist(), ys.tolist()):
        change = round(a - b, 9)
        reliable_up = change >= reliable_change
        if reliable_up:
            improve += 1
        elif -change >= reliable_change:
            deteriorate += 1
        pre_clinical = round(a, 9) >= cutoff
        post_clinical = round(b, 9) >= cutoff
        above_pre += pre_clinical
        below_post += not post_clinical
        if reliable_up and pre_clinical and not post_clinical:
            csi += 1
    return ChangeCounts(n, improve, deteriorate, n - improve - deteriorate, csi, above_pre, below_post,
                        None if n else "no participant with pre and post scores")


# ---------------------------------------------------------------- flow

FLOW_STAGES = ("started", "completed_week3", "completed_post", "analysed")


@dataclass(frozen=True)
class FlowRecord:
    """One participant's passage through the trial, as flags."""

    arm: str | None
    assessed: bool
    excluded: bool
    started: bool
    completed_week3: bool
    completed_post: bool
    analysed: bool


def consort_flow(records: Iterable[FlowRecord], arms: Sequence[str] = ("treatment", "waitlist")) -> dict[str, Any]:
    """CONSORT counts: assessed for eligibility, excluded, randomised, allocated per arm and, per
    arm, started, completed the week-3 measure, completed the post measure and analysed."""
    out: dict[str, Any] = {"assessed": 0, "excluded": 0, "randomised": 0, "allocated": {a: 0 for a in arms}}
    for stage in FLOW_STAGES:
        out[stage] = {a: 0 for a in arms}
    for rec in records:
        out["assessed"] += bool(rec.assessed)
        out["excluded"] += bool(rec.excluded)
        if rec.arm is None:
            continue
        out["randomised"] += 1
        if rec.arm not in out["allocated"]:
            out["allocated"][rec.arm] = 0
            for stage in FLOW_STAGES:
                out[stage][rec.arm] = 0
        out["allocated"][rec.arm] += 1
        for stage in FLOW_STAGES:
            out[stage][rec.arm] += bool(getattr(rec, stage))
    return out
