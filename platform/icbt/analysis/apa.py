"""Numbers as a paper reports them (APA 7th edition).

- Statistics that cannot exceed 1 in absolute value (r, rho, p) have no leading zero: ``-.47``.
- Exact p with three decimals (``p = .019``); from .10 upwards two decimals suffice
  (``p = .42``); below .001 ``p < .001``; above .99 ``p > .99``.
- Minus is the ASCII hyphen-minus, so a number copied from the page pastes as a number.
- A value that rounds to zero loses its sign (``.00``, not ``-.00``).
"""
from __future__ import annotations

from typing import Any, Sequence

MISSING = "–"  # en dash for a value that could not be computed


def _fixed(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def no_leading_zero(value: float | None, decimals: int = 2) -> str:
    """``-0.4712`` -> ``-.47``; for bounded statistics (r, rho, p)."""
    if value is None:
        return MISSING
    text = _fixed(value, decimals)
    if text.startswith("-0."):
        return "-" + text[2:]
    if text.startswith("0."):
        return text[1:]
    return text


def number(value: float | None, decimals: int = 2) -> str:
    """A statistic that can exceed 1 (means, SDs, d): leading zero kept."""
    if value is None:
        return MISSING
    return _fixed(value, decimals)


def p_value(p: float | None) -> str:
    """The p part without the letter: ``= .019``, ``= .42``, ``< .001``, ``> .99``."""
    if p is None:
        return MISSING
    if round(p, 3) < 0.001:
        return "< .001"
    if round(p, 2) > 0.99:
        return "> .99"
    if round(p, 3) >= 0.10:
        return "= " + no_leading_zero(p, 2)
    return "= " + no_leading_zero(p, 3)


def p_cell(p: float | None) -> str:
    """p for a table cell: ``.019``, ``.42``, ``< .001``, ``> .99``."""
    return p_value(p).removeprefix("= ")


def ci(bounds: Sequence[float | None] | None, *, bounded: bool = True, decimals: int = 2) -> str:
    """``95% CI [-.71, -.09]``."""
    if not bounds or bounds[0] is None or bounds[1] is None:
        return MISSING
    fmt = no_leading_zero if bounded else number
    return f"95% CI [{fmt(bounds[0], decimals)}, {fmt(bounds[1], decimals)}]"


def correlation(result: dict[str, Any], *, letter: str = "r", with_ci: bool = False) -> str:
    """``r = -.47, p = .019, n = 25`` (optionally followed by the CI)."""
    value = result.get("r" if letter == "r" else "rho")
    n = result.get("n", 0)
    if value is None:
        return f"{letter} not computed, n = {n}"
    text = f"{letter} = {no_leading_zero(value)}, p {p_value(result.get('p'))}, n = {n}"
    if with_ci and result.get("ci95") and result["ci95"][0] is not None:
        text += f", {ci(result['ci95'])}"
    return text
