"""The pilot's analysis written as a paper reports it, from ``results.json`` alone.

Pure functions: results dict in, sentences out. Every number in the text is formatted from
the results by ``icbt.analysis.apa``, so the page and results.json cannot disagree. Sentences
go through Flask-Babel when an app is present (plain formatting otherwise).
"""
from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask_babel import gettext

from icbt.analysis import apa


def _t(text: str, **values: Any) -> str:
    """Translated through Flask-Babel in an app; plain %-formatting outside one (pure tests)."""
    if has_app_context():
        return gettext(text, **values)
    return text % values if values else text


SUBSCALES = (("task", "Task"), ("bond", "Bond"), ("goal", "Goal"))


def arm_name(arm: str) -> str:
    return _t("the treatment arm") if arm == "treatment" else _t("the waiting-list arm")


def caveat() -> str:
    return _t(
        "The residual gain is the part of the post-treatment score that the pre-treatment score does not "
        "predict, so its correlation with alliance is a semipartial (part) correlation: pre-treatment severity "
        "is removed from the outcome only, not from alliance. It is not the partial correlation of an ANCOVA "
        "of post-treatment CORE-OM on pre-treatment CORE-OM and alliance, which would remove it from both."
    )


def _significant(result: dict[str, Any], alpha: float) -> bool:
    return result.get("p") is not None and result["p"] < alpha


def _correlation_clause(name: str, result: dict[str, Any], alpha: float) -> str:
    if result.get("r") is None:
        return _t("%(name)s could not be correlated with residual gain (%(reason)s; n = %(n)s)",
                  name=name, reason=result.get("reason") or _t("no data"), n=result.get("n", 0))
    if _significant(result, alpha):
        return _t("%(name)s correlated with residual gain, %(stats)s", name=name,
                  stats=apa.correlation(result, with_ci=True))
    return _t("%(name)s was not significantly correlated with residual gain, %(stats)s", name=name,
              stats=apa.correlation(result, with_ci=True))


def _mean_sd(d: dict[str, Any]) -> str:
    if d.get("mean") is None:
        return _t("no scores (n = %(n)s)", n=d.get("n", 0))
    if d.get("sd") is None:
        return _t("M = %(mean)s, n = %(n)s", mean=apa.number(d["mean"]), n=d["n"])
    return _t("M = %(mean)s, SD = %(sd)s, n = %(n)s", mean=apa.number(d["mean"]), sd=apa.number(d["sd"]), n=d["n"])


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def _subscale_list(results: dict[str, Any], prefix: str) -> str:
    parts = []
    for key, label in SUBSCALES:
        r = results.get(f"{prefix}_{key}", {})
        if r.get("r") is not None:
            parts.append(f"{_t(label)} {apa.correlation(r)}")
        else:
            parts.append(_t("%(label)s not computed (n = %(n)s)", label=_t(label), n=r.get("n", 0)))
    return "; ".join(parts)


def paragraphs(results: dict[str, Any]) -> list[str]:
    """The results section: regression, the two headline correlations, subscales, Spearman,
    between- and within-group effects, change counts, flow."""
    alpha = 1.0 - float(results.get("parameters", {}).get("ci_level", 0.95))
    out: list[str] = []
    rg = results["residual_gain"]
    if rg.get("slope") is not None:
        out.append(_t(
            "Residual gain was computed within the treatment arm by regressing post-treatment CORE-OM "
            "(clinical score) on pre-treatment CORE-OM (b = %(slope)s, intercept = %(intercept)s, n = %(n)s); "
            "a participant's residual gain is the observed minus the predicted post-treatment score, so lower "
            "is better and a negative correlation means that higher alliance went with a better outcome than "
            "predicted.", slope=apa.number(rg["slope"]), intercept=apa.number(rg["intercept"]), n=rg["n"]))
    else:
        out.append(_t("Residual gain could not be computed (%(reason)s).", reason=rg.get("reason")))
    week3 = _correlation_clause(_t("Week-3 working alliance (WAI-S total)"),
                                results["alliance_week3_vs_residual_gain"], alpha)
    expected = _correlation_clause(_t("expected alliance, measured before treatment,"),
                                   results["expected_alliance_vs_residual_gain"], alpha)
    out.append(f"{week3}; {expected}.")
    out.append(_t("For the week-3 WAI-S subscales: %(week3)s. For expected alliance: %(expected)s.",
                  week3=_subscale_list(results, "alliance_week3_vs_residual_gain"),
                  expected=_subscale_list(results, "expected_alliance_vs_residual_gain")))
    sp = results.get("spearman", {})
    out.append(_t(
        "As a sensitivity check, Spearman rank correlations: week-3 alliance %(week3)s; expected alliance %(expected)s.",
        week3=apa.correlation(sp.get("alliance_week3_vs_residual_gain", {}), letter="rho"),
        expected=apa.correlation(sp.get("expected_alliance_vs_residual_gain", {}), letter="rho")))
    bg = results["between_group"]
    desc = results["descriptives"]
    if bg.get("d") is not None:
        out.append(_t(
            "At post-treatment, CORE-OM was %(treatment)s in the treatment arm and %(control)s in the "
            "waiting-list arm; between-group Cohen's d = %(d)s, %(ci)s (positive favours treatment).",
            treatment=_mean_sd(desc["treatment"]["core_om"]["post"]),
            control=_mean_sd(desc["waitlist"]["core_om"]["post"]),
            d=apa.number(bg["d"]), ci=apa.ci(bg["ci95"], bounded=False)))
    else:
        out.append(_t("The between-group effect on post-treatment CORE-OM could not be computed (%(reason)s).",
                      reason=bg.get("reason")))
    within = []
    for arm in ("treatment", "waitlist"):
        wg = results["within_group"].get(arm, {})
        if wg.get("d_av") is not None:
            within.append(_t("in %(arm)s CORE-OM went from M = %(pre)s to M = %(post)s (within-group d_av = %(d)s, n = %(n)s)",
                             arm=arm_name(arm), pre=apa.number(wg["mean_pre"]), post=apa.number(wg["mean_post"]),
                             d=apa.number(wg["d_av"]), n=wg["n"]))
        else:
            within.append(_t("in %(arm)s the pre-post effect could not be computed (%(reason)s)",
                             arm=arm_name(arm), reason=wg.get("reason")))
    out.append(_t("Among participants with both scores, %(parts)s.", parts="; ".join(within)))
    params = results.get("parameters", {})
    counts = []
    for arm in ("treatment", "waitlist"):
        c = results["change_counts"].get(arm, {})
        n = c.get("n", 0)
        counts.append(_t(
            "in %(arm)s, %(ri)s of %(n)s (%(rip)s) improved reliably, %(csi)s (%(csip)s) improved clinically "
            "significantly and %(rd)s deteriorated reliably",
            arm=arm_name(arm), n=n, ri=c.get("reliable_improvement", 0),
            rip=_percent(c.get("reliable_improvement", 0), n),
            csi=c.get("clinically_significant_improvement", 0),
            csip=_percent(c.get("clinically_significant_improvement", 0), n),
            rd=c.get("reliable_deterioration", 0)))
    out.append(_t("Using a reliable change of %(rc)s clinical-score points and the clinical cut-off of %(cut)s: %(parts)s.",
                  rc=apa.number(params.get("reliable_change", 5), 0), cut=apa.number(params.get("cutoff", 10), 0),
                  parts="; ".join(counts)))
    flow = results["flow"]
    out.append(_t(
        "Flow: %(assessed)s assessed for eligibility, %(excluded)s excluded, %(randomised)s randomised "
        "(%(t)s to treatment, %(w)s to the waiting list); %(t3)s treatment participants completed the week-3 "
        "alliance measure, and %(tp)s treatment and %(wp)s waiting-list participants the post-treatment measure.",
        assessed=flow["assessed"], excluded=flow["excluded"], randomised=flow["randomised"],
        t=flow["allocated"].get("treatment", 0), w=flow["allocated"].get("waitlist", 0),
        t3=flow["completed_week3"].get("treatment", 0), tp=flow["completed_post"].get("treatment", 0),
        wp=flow["completed_post"].get("waitlist", 0)))
    return out
