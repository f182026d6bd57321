"""Checks shared by the page tests: the numbers shown against results.json, and the analysis
recomputed from the exported CSVs with SciPy."""
from __future__ import annotations

import csv
import io
import math
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from scipy import stats as sps


class Cells(HTMLParser):
    """Collect the text of every element carrying data-key."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self._stack: list[str | None] = []

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in self.VOID:
            return
        key = dict(attrs).get("data-key")
        self._stack.append(key)
        if key:
            self.cells[key] = ""

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        for key in self._stack:
            if key:
                self.cells[key] += data


def resolve(results: dict, path: str):  # type: ignore[no-untyped-def]
    value = results
    for part in path.split("."):
        value = value[part]
    return value


NUMBER = re.compile(r"-?\d*\.?\d+")


def shown_equals(text: str, value) -> bool:  # type: ignore[no-untyped-def]
    """Does the displayed text show ``value`` (to the precision displayed)? Written independently
    of the formatter: parse the number back and allow half a unit of its last decimal."""
    text = text.strip()
    if value is None:
        return text == "–"
    if isinstance(value, list):
        shown = NUMBER.findall(text)
        return len(shown) == len(value) and all(shown_equals(s, v) for s, v in zip(shown, value))
    if isinstance(value, str):
        return text == value
    if isinstance(value, int) and not isinstance(value, bool):
        return text == str(value)
    if text.startswith("< "):
        return value < float(text[2:])
    if text.startswith("> "):
        return value > float(text[2:])
    text = text.removeprefix("= ")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-12



def assert_page_shows_results(html: str, results: dict[str, Any]) -> int:
    """Every data-key cell on the page shows the value in results.json. Returns the count."""
    cells = Cells()
    cells.feed(html)
    for key, text in cells.cells.items():
        value = resolve(results, key)
        assert shown_equals(text, value), (key, text, value)
    return len(cells.cells)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def num(text: str | None) -> float | None:
    return float(text) if text not in ("", None) else None


def assert_results_recompute_from_csv(participants_csv: str, results: dict[str, Any]) -> None:
    """Residual gain, the alliance correlations and the between-group d from the wide CSV."""
    table = rows(participants_csv)
    treated = [r for r in table if r["arm"] == "treatment"]
    pairs = [(num(r["core_om_pre_total_clinical"]), num(r["core_om_post_total_clinical"])) for r in treated]
    complete = [(a, b) for a, b in pairs if a is not None and b is not None]
    assert results["residual_gain"]["n"] == len(complete)
    fit = sps.linregress([a for a, _ in complete], [b for _, b in complete])
    assert results["residual_gain"]["slope"] == pytest.approx(fit.slope, rel=1e-9)
    assert results["residual_gain"]["intercept"] == pytest.approx(fit.intercept, rel=1e-9, abs=1e-9)
    gain = {r["participant_code"]: b - (fit.intercept + fit.slope * a)
            for r, (a, b) in zip(treated, pairs) if a is not None and b is not None}
    for r in treated:
        if r["residual_gain"]:
            assert float(r["residual_gain"]) == pytest.approx(gain[r["participant_code"]], abs=1e-9)
    for column, key in (("wai_week3_total", "alliance_week3_vs_residual_gain"),
                        ("wai_week3_task", "alliance_week3_vs_residual_gain_task"),
                        ("wai_week3_bond", "alliance_week3_vs_residual_gain_bond"),
                        ("wai_week3_goal", "alliance_week3_vs_residual_gain_goal"),
                        ("expected_alliance_total", "expected_alliance_vs_residual_gain")):
        xy = [(num(r[column]), gain.get(r["participant_code"])) for r in treated]
        xy = [(x, y) for x, y in xy if x is not None and y is not None]
        assert results[key]["n"] == len(xy), key
        if len(xy) >= 3:
            ref = sps.pearsonr([x for x, _ in xy], [y for _, y in xy])
            assert results[key]["r"] == pytest.approx(ref.statistic, abs=1e-9), key
            assert results[key]["p"] == pytest.approx(ref.pvalue, rel=1e-6), key
    post_t = [x for x in (num(r["core_om_post_total_clinical"]) for r in treated) if x is not None]
    post_c = [x for x in (num(r["core_om_post_total_clinical"]) for r in table if r["arm"] == "waitlist") if x is not None]
    assert results["between_group"]["n_treatment"] == len(post_t)
    assert results["between_group"]["n_control"] == len(post_c)
    if len(post_t) > 1 and len(post_c) > 1:
        t = sps.ttest_ind(post_c, post_t).statistic
        assert results["between_group"]["d"] == pytest.approx(t * math.sqrt(1 / len(post_t) + 1 / len(post_c)), rel=1e-9)
