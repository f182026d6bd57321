"""Scoring as pure functions, driven entirely by the instrument's data.

``score_answers(instrument, answers)`` takes the raw answers (item number -> answer, or None /
absent for a missing item) and returns every score the instrument defines:

* reverse-scored items are turned round first: ``minimum + maximum - answer``
  (CORE-OM 0-4: ``4 - answer``; WAI-S 1-7: ``8 - answer``);
* ``mean``: the mean of the answered items; ``sum``: the sum, prorated when items are missing
  (mean of the answered items x number of items), so a prorated sum stays on the full scale;
* a score is computed only when at most ``max_missing`` of its items are missing; beyond that
  it is ``None`` (missing), never 0;
* ``clinical_factor`` adds ``<key>_clinical`` = score x factor (CORE-OM clinical score x 10).

Scores are not rounded here (rounding belongs to display); a mean is a float, a sum with no
missing item is an int-valued float.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from icbt.measures.instruments import Instrument, Item


class AnswerError(ValueError):
    """Answers that do not fit the instrument (unknown item or value out of range)."""


@dataclass(frozen=True)
class ScoreResult:
    scores: dict[str, float | None]
    missing_items: tuple[int, ...]
    band: str | None = None
    risk_items: tuple[tuple[int, int], ...] = ()  # (item number, answer) above threshold
    instrument_id: str = ""
    instrument_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What an administration stores: scores, missing items, band, scoring version."""
        return {
            "scores": dict(self.scores),
            "missing_items": list(self.missing_items),
            "band": self.band,
            "risk_items": [list(pair) for pair in self.risk_items],
            "instrument": self.instrument_id,
            "scoring_version": self.instrument_version,
        }


def clean_answers(instrument: Instrument, answers: Mapping[int | str, Any]) -> dict[int, int]:
    """Answers as ``{item number: int}`` with missing items left out; raise on anything else."""
    cleaned: dict[int, int] = {}
    for raw_number, raw_value in answers.items():
        try:
            number = int(raw_number)
        except (TypeError, ValueError):
            raise AnswerError(f"item {raw_number!r} is not an item number") from None
        try:
            item = instrument.item(number)
        except KeyError:
            raise AnswerError(f"{instrument.id} has no item {number}") from None
        if raw_value is None or raw_value == "":
            continue
        if isinstance(raw_value, bool):
            raise AnswerError(f"item {number}: answer must be a whole number")
        try:
            value = int(raw_value)
        except (TypeError, ValueError):
            raise AnswerError(f"item {number}: answer {raw_value!r} is not a whole number") from None
        if isinstance(raw_value, float) and raw_value != value:
            raise AnswerError(f"item {number}: answer {raw_value!r} is not a whole number")
        if value not in item.values:
            raise AnswerError(f"item {number}: answer {value} is outside {item.minimum}-{item.maximum}")
        cleaned[number] = value
    return cleaned


def reverse(item: Item, value: int) -> int:
    """The scored value of an answer: turned round for a reverse-scored item."""
    return item.minimum + item.maximum - value if item.reversed else value


def scored_values(instrument: Instrument, answers: Mapping[int, int]) -> dict[int, int]:
    return {number: reverse(instrument.item(number), value) for number, value in answers.items()}


def _score(method: str, values: list[int], n_items: int) -> float:
    mean = sum(values) / len(values)
    return mean if method == "mean" else mean * n_items


def band_for(instrument: Instrument, scores: Mapping[str, float | None]) -> str | None:
    if not instrument.band_score or not instrument.bands:
        return None
    value = scores.get(instrument.band_score)
    if value is None:
        return None
    label = None
    for band in instrument.bands:
        # a tiny tolerance so that 14.999999 from float arithmetic does not fall a band low
        if value + 1e-9 >= band.minimum:
            label = band.label
    return label


def risk_hits(instrument: Instrument, answers: Mapping[int, int]) -> tuple[tuple[int, int], ...]:
    """Risk items whose raw answer is above the item's threshold, as (item, answer)."""
    hits = []
    for item in instrument.risk_items:
        value = answers.get(item.number)
        if value is not None and item.risk_threshold is not None and value > item.risk_threshold:
            hits.append((item.number, value))
    return tuple(hits)


def score_answers(instrument: Instrument, answers: Mapping[int | str, Any]) -> ScoreResult:
    raw = clean_answers(instrument, answers)
    scored = scored_values(instrument, raw)
    scores: dict[str, float | None] = {}
    for rule in instrument.scores:
        values = [scored[n] for n in rule.items if n in scored]
        missing = len(rule.items) - len(values)
        value = _score(rule.method, values, len(rule.items)) if values and missing <= rule.max_missing else None
        scores[rule.key] = value
        if rule.clinical_factor:
            scores[f"{rule.key}_clinical"] = None if value is None else value * rule.clinical_factor
    missing_items = tuple(n for n in instrument.item_numbers if n not in raw)
    return ScoreResult(
        scores=scores,
        missing_items=missing_items,
        band=band_for(instrument, scores),
        risk_items=risk_hits(instrument, raw),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
    )


# ---------------------------------------------------------------- change between two scores

def reliable_change(pre: float | None, post: float | None, threshold: float, *, higher_is: str = "worse") -> str | None:
    """``"improved"``, ``"deteriorated"`` or ``"no reliable change"`` (None if a score is missing).

    A change counts when its size is at least ``threshold`` (CORE-OM: 5 clinical points)."""
    if pre is None or post is None:
        return None
    change = post - pre
    if higher_is == "worse":
        change = -change
    # tolerance: 15.0 - 10.0 computed through means can come out as 4.999999999
    if change >= threshold - 1e-9:
        return "improved"
    if -change >= threshold - 1e-9:
        return "deteriorated"
    return "no reliable change"


def clinically_significant_improvement(
    pre: float | None, post: float | None, *, cutoff: float, threshold: float, higher_is: str = "worse"
) -> bool | None:
    """Reliable improvement AND moving from the clinical side of the cut-off to the other
    (Jacobson & Truax 1991). For CORE-OM: pre >= 10, post < 10, pre - post >= 5."""
    if pre is None or post is None:
        return None
    if reliable_change(pre, post, threshold, higher_is=higher_is) != "improved":
        return False
    if higher_is == "worse":
        return pre >= cutoff and post < cutoff
    return pre < cutoff and post >= cutoff


def change_category(instrument: Instrument, pre: Mapping[str, Any] | None, post: Mapping[str, Any] | None) -> dict[str, Any]:
    """Reliable and clinically significant change between two stored score sets, using the
    instrument's own cut-off and reliable-change threshold (data, not code)."""
    if instrument.reliable_change is None:
        raise ValueError(f"{instrument.id} defines no reliable-change threshold")
    key = instrument.reliable_change.score
    a = (pre or {}).get(key)
    b = (post or {}).get(key)
    result: dict[str, Any] = {
        "score": key,
        "reliable_change": reliable_change(a, b, instrument.reliable_change.value, higher_is=instrument.higher_is),
    }
    if instrument.cutoff is not None:
        result["clinically_significant_improvement"] = clinically_significant_improvement(
            a, b, cutoff=instrument.cutoff.value, threshold=instrument.reliable_change.value,
            higher_is=instrument.higher_is,
        )
    return result
