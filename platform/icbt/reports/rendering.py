"""Figures and HTML of a run, both made from the run's data and ``results.json``.

The web page and the archived ``report.html`` render the same template fragment
(``reports/_report_body.html``) from the same results, so they cannot disagree.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from icbt.analysis import apa
from icbt.analysis.dataset import TrialDataset
from icbt.analysis.results import residual_gains
from icbt.reports import figures, narrative


@dataclass(frozen=True)
class FigureSpec:
    name: str  # file name in figures/
    title: Any  # lazy translated strings
    caption: Any


FIGURES = (
    FigureSpec("alliance_week3.svg", _l("Week-3 working alliance and residual gain"),
               _l("Each circle is a treatment participant with both values; the line is the least-squares fit "
               "and the grey band its 95% confidence band. Below zero = better than predicted from the "
               "pre-treatment score.")),
    FigureSpec("expected_alliance.svg", _l("Expected alliance and residual gain"),
               _l("Expected alliance was measured before treatment. Same layout as above.")),
    FigureSpec("core_om_pre_post.svg", _l("CORE-OM before and after treatment, by arm"),
               _l("Means with 95% confidence intervals. Circles and solid line: treatment; squares and dashed "
               "line: waiting list. Dotted line: clinical cut-off (10).")),
)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_figures(dataset: TrialDataset, results: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write the three SVG figures into ``folder``; returns {name: file name}."""
    folder.mkdir(parents=True, exist_ok=True)
    gains = residual_gains(dataset.sorted())
    residuals = list(gains.residuals)
    week3 = results["alliance_week3_vs_residual_gain"]
    expected = results["expected_alliance_vs_residual_gain"]
    written: dict[str, str] = {}
    svg = figures.scatter_with_fit(
        [p.wai_week3.total for p in gains.participants], residuals,
        xlabel="Working alliance at week 3 (WAI-S total, 12-84)", ylabel="Residual gain (CORE-OM clinical score)",
        title=f"Week-3 alliance: {apa.correlation(week3)}",
    )
    _atomic_write(folder / FIGURES[0].name, svg)
    written["alliance_week3"] = FIGURES[0].name
    svg = figures.scatter_with_fit(
        [p.expected.total for p in gains.participants], residuals,
        xlabel="Expected alliance before treatment (total, 12-84)", ylabel="Residual gain (CORE-OM clinical score)",
        title=f"Expected alliance: {apa.correlation(expected)}",
    )
    _atomic_write(folder / FIGURES[1].name, svg)
    written["expected_alliance"] = FIGURES[1].name
    desc = results["descriptives"]
    svg = figures.pre_post_by_arm(
        {arm: desc[arm]["core_om"] for arm in ("treatment", "waitlist")},
        ylabel="CORE-OM clinical score (0-40, higher = worse)", title="CORE-OM by arm",
    )
    _atomic_write(folder / FIGURES[2].name, svg)
    written["core_om_pre_post"] = FIGURES[2].name
    return written


def report_context(results: dict[str, Any], figure_url: Callable[[str], str]) -> dict[str, Any]:
    return {
        "results": results,
        "paragraphs": narrative.paragraphs(results),
        "caveat": narrative.caveat(),
        "figures": FIGURES,
        "figure_url": figure_url,
        "apa": apa,
        "correlation_rows": correlation_rows(results),
    }


CORRELATION_LABELS = (
    ("alliance_week3_vs_residual_gain", _l("Week-3 alliance, total")),
    ("alliance_week3_vs_residual_gain_task", _l("Week-3 alliance, task")),
    ("alliance_week3_vs_residual_gain_bond", _l("Week-3 alliance, bond")),
    ("alliance_week3_vs_residual_gain_goal", _l("Week-3 alliance, goal")),
    ("expected_alliance_vs_residual_gain", _l("Expected alliance, total")),
    ("expected_alliance_vs_residual_gain_task", _l("Expected alliance, task")),
    ("expected_alliance_vs_residual_gain_bond", _l("Expected alliance, bond")),
    ("expected_alliance_vs_residual_gain_goal", _l("Expected alliance, goal")),
)


def correlation_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label in CORRELATION_LABELS:
        r = results.get(key, {})
        rows.append({"key": key, "label": label, "pearson": r, "spearman": results.get("spearman", {}).get(key, {})})
    return rows


def write_report_html(results: dict[str, Any], path: Path) -> None:
    """A self-contained copy of the report page (CSS inlined, figures linked relatively)."""
    css_path = Path(current_app.static_folder or "") / "css" / "app.css"
    # Our own stylesheet, inlined because the file is opened from disk, not served.
    css = Markup(css_path.read_text(encoding="utf-8")) if css_path.exists() else ""
    html = render_template("reports/standalone.html", css=css,
                           **report_context(results, lambda name: f"figures/{name}"))
    _atomic_write(path, html)
