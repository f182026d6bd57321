"""The report's figures as SVG text (Matplotlib, Agg, no pyplot: safe in worker threads).

Readable in print and greyscale: black markers and lines distinguished by marker shape and
line style, the confidence band as a light grey fill, text kept as text. The output is
deterministic (fixed SVG ids, no date), so the same data gives the same file.
"""
from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib import rcParams  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from icbt.analysis import stats  # noqa: E402

rcParams["svg.hashsalt"] = "icbt-report"  # stable element ids
rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable, prints crisply

#: above this many points the dots are rasterised inside the SVG (keeps the file small)
RASTERISE_ABOVE = 3000

ARM_STYLE = {
    "treatment": {"marker": "o", "linestyle": "-", "label": "Treatment"},
    "waitlist": {"marker": "s", "linestyle": "--", "label": "Waiting list"},
}


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return buffer.getvalue()


def _figure(width: float = 6.0, height: float = 4.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_facecolor("white")
    return fig


def scatter_with_fit(x: Sequence[float | None], y: Sequence[float | None], *, xlabel: str, ylabel: str,
                     title: str, note: str = "") -> str:
    """Each participant as an open circle, the OLS line and its 95% confidence band."""
    xs, ys = stats.complete_pairs(x, y)
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=28, facecolors="white", edgecolors="black", linewidths=1.0, zorder=3,
               rasterized=xs.size > RASTERISE_ABOVE, label=f"Participants (n = {xs.size})")
    line = stats.fitted_line_with_band(x, y)
    if line is not None:
        ax.fill_between(line.grid, line.lower, line.upper, color="0.82", linewidth=0, zorder=1,
                        label="95% confidence band")
        ax.plot(line.grid, line.fitted, color="black", linewidth=1.6, zorder=2, label="Least-squares line")
    ax.axhline(0, color="0.45", linewidth=0.8, linestyle=":", zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11, loc="left")
    if xs.size:
        ax.legend(frameon=False, fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "No participant has both values", ha="center", va="center", transform=ax.transAxes)
    if note:
        fig.text(0.01, -0.02, note, fontsize=8, ha="left", va="top")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)


def pre_post_by_arm(arms: dict[str, dict[str, dict[str, float | int | None]]], *, ylabel: str, title: str) -> str:
    """Mean CORE-OM at pre and post per arm with 95% CI error bars (t-based, from n, mean, SD).

    ``arms`` is ``{arm: {"pre": {n, mean, sd}, "post": {n, mean, sd}}}`` as in results.json.
    """
    from scipy import stats as sps

    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    offsets = {"treatment": -0.06, "waitlist": 0.06}
    plotted = False
    for arm, timepoints in arms.items():
        style = ARM_STYLE.get(arm, {"marker": "^", "linestyle": ":", "label": arm})
        xs, means, errors = [], [], []
        for i, tp in enumerate(("pre", "post")):
            d = timepoints.get(tp) or {}
            if d.get("mean") is None:
                continue
            xs.append(i + offsets.get(arm, 0.0))
            means.append(d["mean"])
            n, sd = d.get("n") or 0, d.get("sd")
            errors.append(float(sps.t.ppf(0.975, n - 1)) * sd / n ** 0.5 if sd is not None and n > 1 else 0.0)
        if not xs:
            continue
        plotted = True
        ax.errorbar(xs, means, yerr=errors, color="black", marker=style["marker"], markerfacecolor="white",
                    markersize=7, linestyle=style["linestyle"], linewidth=1.5, capsize=4,
                    label=f"{style['label']}")
    ax.set_xticks([0, 1], ["Pre-treatment", "Post-treatment"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11, loc="left")
    ax.axhline(10, color="0.45", linewidth=0.8, linestyle=":")
    ax.text(1.38, 10, "clinical cut-off", fontsize=8, ha="right", va="bottom", color="0.3")
    if plotted:
        ax.legend(frameon=False, fontsize=9, loc="best")
    else:
        ax.text(0.5, 0.5, "No CORE-OM scores yet", ha="center", va="center", transform=ax.transAxes)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)
