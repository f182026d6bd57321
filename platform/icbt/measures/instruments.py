"""Instruments as data: one YAML file per instrument, validated on load.

The package ships its definitions in ``icbt/measures/instruments/``; a trial adds or swaps
instruments by putting files in the folder named by ``app.config["INSTRUMENTS_EXTRA_DIR"]``
(a file there with an id already defined replaces it). A bad file is refused with an
:class:`InstrumentError` naming the file and the field.

Nothing here touches the database or Flask: ``load_instruments(folders)`` is pure.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent / "instruments"
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

METHODS = ("mean", "sum")
KINDS = ("outcome", "process", "expectation", "screening", "other")


class InstrumentError(ValueError):
    """A definition that cannot be used. The message names the file and the field."""

    def __init__(self, source: str, field_path: str, reason: str) -> None:
        self.source = source
        self.field = field_path
        self.reason = reason
        super().__init__(f"{source}: {field_path}: {reason}")


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    number: int
    label: str
    domain: str
    reversed: bool = False
    risk: bool = False
    risk_threshold: int | None = None  # alert when answer > threshold
    risk_group: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def minimum(self) -> int:
        return min(self.values)

    @property
    def maximum(self) -> int:
        return max(self.values)


@dataclass(frozen=True)
class ScoreRule:
    key: str
    label: str
    method: str  # mean | sum
    items: tuple[int, ...]  # item numbers that make up this score
    max_missing: int
    clinical_factor: float | None = None


@dataclass(frozen=True)
class Threshold:
    score: str
    value: float


@dataclass(frozen=True)
class Band:
    minimum: float
    label: str


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    name: str
    title: str
    kind: str
    items: tuple[Item, ...]
    scores: tuple[ScoreRule, ...]
    domains: Mapping[str, str]
    primary: str
    higher_is: str = "worse"
    cutoff: Threshold | None = None
    reliable_change: Threshold | None = None
    band_score: str | None = None
    bands: tuple[Band, ...] = ()
    instructions: str = ""
    wording_copyright: str | None = None
    copyright_required: bool = False
    sources: tuple[str, ...] = ()
    source_file: str = ""
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(i.number for i in self.items)

    def item(self, number: int) -> Item:
        for item in self.items:
            if item.number == number:
                return item
        raise KeyError(number)

    @property
    def risk_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.risk)

    @property
    def score_keys(self) -> tuple[str, ...]:
        """Every key ``score_answers`` returns, in order."""
        keys: list[str] = []
        for rule in self.scores:
            keys.append(rule.key)
            if rule.clinical_factor:
                keys.append(f"{rule.key}_clinical")
        return tuple(keys)


# ---------------------------------------------------------------- parsing helpers

def _require(data: Mapping[str, Any], key: str, source: str, path: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data or data[key] is None:
        raise InstrumentError(source, f"{path}{key}", "is required")
    value = data[key]
    if kind is int and isinstance(value, bool):
        raise InstrumentError(source, f"{path}{key}", "must be a whole number")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InstrumentError(source, f"{path}{key}", f"must be {names}, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, source: str, path: str = "", *, required: bool = True,
          limit: int = 300) -> str | None:
    if not required and data.get(key) is None:
        return None
    value = _require(data, key, source, path, str).strip()
    if not value:
        raise InstrumentError(source, f"{path}{key}", "must not be empty")
    if len(value) > limit:
        raise InstrumentError(source, f"{path}{key}", f"is longer than {limit} characters")
    return value


def _int(data: Mapping[str, Any], key: str, source: str, path: str = "", *, required: bool = True,
         default: int | None = None) -> int | None:
    if data.get(key) is None and not required:
        return default
    return _require(data, key, source, path, int)


def _number(data: Mapping[str, Any], key: str, source: str, path: str) -> float:
    value = _require(data, key, source, path, (int, float))
    if isinstance(value, bool):
        raise InstrumentError(source, f"{path}{key}", "must be a number")
    return float(value)


def _options(raw: Any, source: str, path: str) -> tuple[Option, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise InstrumentError(source, path, "must be a list of at least two response options")
    options: list[Option] = []
    for n, entry in enumerate(raw):
        here = f"{path}[{n}]."
        if not isinstance(entry, Mapping):
            raise InstrumentError(source, f"{path}[{n}]", "must be a mapping with value and label")
        value = _int(entry, "value", source, here)
        assert value is not None
        if not 0 <= value <= 10:
            raise InstrumentError(source, f"{here}value", "must be between 0 and 10")
        options.append(Option(value=value, label=_text(entry, "label", source, here) or ""))
    values = [o.value for o in options]
    if len(set(values)) != len(values):
        raise InstrumentError(source, path, "has repeated values")
    if values != sorted(values) or values != list(range(values[0], values[-1] + 1)):
        raise InstrumentError(source, path, "values must be consecutive whole numbers in increasing order")
    return tuple(options)


def parse_instrument(data: Any, source: str) -> Instrument:
    """Build an :class:`Instrument` from parsed YAML, or raise :class:`InstrumentError`."""
    if not isinstance(data, Mapping):
        raise InstrumentError(source, "(file)", "must be a mapping at the top level")
    instrument_id = _text(data, "id", source, limit=64) or ""
    if not all(c.isalnum() or c in "-_" for c in instrument_id) or instrument_id != instrument_id.lower():
        raise InstrumentError(source, "id", "use lower-case letters, digits, '-' and '_' only")
    version = data.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        raise InstrumentError(source, "version", 'must be a quoted string such as "1.0"')
    version = _text(data, "version", source, limit=32) or ""
    name = _text(data, "name", source, limit=120) or ""
    title = _text(data, "title", source, limit=200) or ""
    kind = data.get("kind", "other")
    if kind not in KINDS:
        raise InstrumentError(source, "kind", f"must be one of {', '.join(KINDS)}")

    scale = _options(data.get("options"), source, "options") if data.get("options") is not None else None

    raw_domains = data.get("domains")
    if not isinstance(raw_domains, Mapping) or not raw_domains:
        raise InstrumentError(source, "domains", "must be a mapping of domain keys to {label: ...}")
    domains: dict[str, str] = {}
    for key, spec in raw_domains.items():
        if not isinstance(spec, Mapping):
            raise InstrumentError(source, f"domains.{key}", "must be a mapping with a label")
        domains[str(key)] = _text(spec, "label", source, f"domains.{key}.") or ""

    risk_spec = data.get("risk") or {}
    if not isinstance(risk_spec, Mapping):
        raise InstrumentError(source, "risk", "must be a mapping")
    default_threshold = _int(risk_spec, "threshold", source, "risk.", required=False, default=0)

    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise InstrumentError(source, "items", "must be a non-empty list")
    items: list[Item] = []
    for n, entry in enumerate(raw_items):
        here = f"items[{n}]."
        if not isinstance(entry, Mapping):
            raise InstrumentError(source, f"items[{n}]", "must be a mapping")
        number = _int(entry, "number", source, here)
        assert number is not None
        if number != n + 1:
            raise InstrumentError(source, f"{here}number", f"must be {n + 1}: items are numbered 1, 2, 3... in order")
        label = _text(entry, "label", source, here, limit=80) or ""
        domain = _text(entry, "domain", source, here, limit=64) or ""
        if domain not in domains:
            raise InstrumentError(source, f"{here}domain", f"{domain!r} is not one of the domains ({', '.join(domains)})")
        options = _options(entry["options"], source, f"{here}options") if entry.get("options") is not None else scale
        if options is None:
            raise InstrumentError(source, f"{here}options", "no response options (give 'options' for the instrument or the item)")
        for flag in ("reversed", "risk"):
            if flag in entry and not isinstance(entry[flag], bool):
                raise InstrumentError(source, f"{here}{flag}", "must be true or false")
        risk = bool(entry.get("risk", False))
        threshold = _int(entry, "risk_threshold", source, here, required=False)
        if threshold is not None and not risk:
            raise InstrumentError(source, f"{here}risk_threshold", "is only allowed on a risk item (risk: true)")
        if risk:
            threshold = default_threshold if threshold is None else threshold
            values = [o.value for o in options]
            if not values[0] <= threshold < values[-1]:
                raise InstrumentError(source, f"{here}risk_threshold", "must lie between the lowest and the highest answer")
        items.append(Item(
            number=number, label=label, domain=domain, reversed=bool(entry.get("reversed", False)),
            risk=risk, risk_threshold=threshold if risk else None,
            risk_group=entry.get("risk_group") if risk else None, options=options,
        ))

    scoring = data.get("scoring")
    if not isinstance(scoring, Mapping):
        raise InstrumentError(source, "scoring", "is required and must be a mapping")
    raw_scores = scoring.get("scores")
    if not isinstance(raw_scores, list) or not raw_scores:
        raise InstrumentError(source, "scoring.scores", "must be a non-empty list")
    all_numbers = tuple(i.number for i in items)
    rules: list[ScoreRule] = []
    for n, entry in enumerate(raw_scores):
        here = f"scoring.scores[{n}]."
        if not isinstance(entry, Mapping):
            raise InstrumentError(source, f"scoring.scores[{n}]", "must be a mapping")
        key = _text(entry, "key", source, here, limit=40) or ""
        if key in {r.key for r in rules}:
            raise InstrumentError(source, f"{here}key", f"{key!r} is used twice")
        method = entry.get("method")
        if method not in METHODS:
            raise InstrumentError(source, f"{here}method", f"must be one of {', '.join(METHODS)}")
        selectors = [s for s in ("items", "domains", "exclude_domains") if s in entry]
        if len(selectors) != 1:
            raise InstrumentError(source, here.rstrip("."), "give exactly one of items, domains, exclude_domains")
        if "items" in entry:
            chosen = entry["items"]
            if chosen == "all":
                numbers = all_numbers
            elif isinstance(chosen, list) and chosen and all(isinstance(x, int) and not isinstance(x, bool) for x in chosen):
                unknown = sorted(set(chosen) - set(all_numbers))
                if unknown:
                    raise InstrumentError(source, f"{here}items", f"unknown item numbers {unknown}")
                numbers = tuple(sorted(set(chosen)))
            else:
                raise InstrumentError(source, f"{here}items", "must be 'all' or a list of item numbers")
        else:
            selector = selectors[0]
            names = entry[selector]
            if not isinstance(names, list) or not names:
                raise InstrumentError(source, f"{here}{selector}", "must be a list of domain keys")
            unknown = [d for d in names if d not in domains]
            if unknown:
                raise InstrumentError(source, f"{here}{selector}", f"unknown domains {unknown}")
            if selector == "domains":
                numbers = tuple(i.number for i in items if i.domain in names)
            else:
                numbers = tuple(i.number for i in items if i.domain not in names)
            if not numbers:
                raise InstrumentError(source, f"{here}{selector}", "selects no items")
        max_missing = _int(entry, "max_missing", source, here)
        assert max_missing is not None
        if not 0 <= max_missing < len(numbers):
            raise InstrumentError(source, f"{here}max_missing", f"must be between 0 and {len(numbers) - 1}")
        factor = entry.get("clinical_factor")
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0):
            raise InstrumentError(source, f"{here}clinical_factor", "must be a positive number")
        rules.append(ScoreRule(
            key=key, label=_text(entry, "label", source, here, limit=80) or "", method=method,
            items=numbers, max_missing=max_missing, clinical_factor=float(factor) if factor else None,
        ))

    instrument = Instrument(
        id=instrument_id, version=version, name=name, title=title, kind=kind,
        items=tuple(items), scores=tuple(rules), domains=domains, primary="",
        source_file=source,
    )
    keys = instrument.score_keys

    def score_ref(spec: Any, path: str) -> Threshold | None:
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise InstrumentError(source, path, "must be a mapping with score and value")
        ref = _text(spec, "score", source, f"{path}.", limit=60)
        if ref not in keys:
            raise InstrumentError(source, f"{path}.score", f"{ref!r} is not a score of this instrument ({', '.join(keys)})")
        return Threshold(score=ref or "", value=_number(spec, "value", source, f"{path}."))

    primary = scoring.get("primary")
    if primary not in keys:
        raise InstrumentError(source, "scoring.primary", f"must name one of the scores ({', '.join(keys)})")
    higher_is = scoring.get("higher_is", "worse")
    if higher_is not in ("worse", "better"):
        raise InstrumentError(source, "scoring.higher_is", "must be 'worse' or 'better'")
    band_score: str | None = None
    bands: list[Band] = []
    if scoring.get("bands") is not None:
        spec = scoring["bands"]
        if not isinstance(spec, Mapping):
            raise InstrumentError(source, "scoring.bands", "must be a mapping with score and levels")
        band_score = _text(spec, "score", source, "scoring.bands.", limit=60)
        if band_score not in keys:
            raise InstrumentError(source, "scoring.bands.score", f"{band_score!r} is not a score of this instrument")
        levels = spec.get("levels")
        if not isinstance(levels, list) or not levels:
            raise InstrumentError(source, "scoring.bands.levels", "must be a non-empty list")
        for n, level in enumerate(levels):
            here = f"scoring.bands.levels[{n}]."
            if not isinstance(level, Mapping):
                raise InstrumentError(source, f"scoring.bands.levels[{n}]", "must be a mapping with min and label")
            bands.append(Band(minimum=_number(level, "min", source, here), label=_text(level, "label", source, here) or ""))
        mins = [b.minimum for b in bands]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise InstrumentError(source, "scoring.bands.levels", "min values must increase")

    notes = {k: data[k] for k in ("subscale_check", "licence", "recall_period") if k in data}
    sources = data.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InstrumentError(source, "sources", "must be a list of references")
    copyright_line = _text(data, "wording_copyright", source, required=False)
    copyright_required = bool(data.get("copyright_required", False))
    if copyright_required and not copyright_line:
        raise InstrumentError(source, "wording_copyright", "is required when copyright_required is true")

    return Instrument(
        id=instrument_id, version=version, name=name, title=title, kind=kind,
        items=tuple(items), scores=tuple(rules), domains=domains, primary=primary,
        higher_is=higher_is, cutoff=score_ref(scoring.get("cutoff"), "scoring.cutoff"),
        reliable_change=score_ref(scoring.get("reliable_change"), "scoring.reliable_change"),
        band_score=band_score, bands=tuple(bands),
        instructions=_text(data, "instructions", source, required=False, limit=600) or "",
        wording_copyright=copyright_line, copyright_required=copyright_required,
        sources=tuple(sources), source_file=source, notes=notes,
    )


def load_file(path: Path) -> Instrument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InstrumentError(str(path), "(file)", f"is not valid YAML ({error.__class__.__name__})") from None
    except UnicodeDecodeError:
        raise InstrumentError(str(path), "(file)", "is not UTF-8 text") from None
    return parse_instrument(data, str(path))


def load_instruments(folders: Iterable[Path | str | None]) -> dict[str, Instrument]:
    """Every ``*.yaml``/``*.yml`` file in ``folders``, in order; a later folder's file with
    the same id replaces an earlier one (so a trial can swap an instrument); two files with
    the same id in one folder are an error."""
    registry: dict[str, Instrument] = {}
    for folder in folders:
        if folder is None:
            continue
        folder = Path(folder)
        if not folder.is_dir():
            raise InstrumentError(str(folder), "(folder)", "does not exist")
        seen: dict[str, str] = {}
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            instrument = load_file(path)
            if instrument.id in seen:
                raise InstrumentError(str(path), "id", f"{instrument.id!r} is also defined in {seen[instrument.id]}")
            seen[instrument.id] = str(path)
            registry[instrument.id] = instrument
    return registry


def default_folders(extra: Path | str | None = None) -> list[Path | str | None]:
    return [PACKAGE_DIR, extra]


# ---------------------------------------------------------------- the app's registry

def init_app(app: Any) -> None:
    """Load and validate the instruments at start-up (a bad file stops the app with its name)."""
    app.extensions["icbt.instruments"] = load_instruments(default_folders(app.config.get("INSTRUMENTS_EXTRA_DIR")))


def registry() -> dict[str, Instrument]:
    from flask import current_app

    instruments = current_app.extensions.get("icbt.instruments")
    if instruments is None:
        init_app(current_app)
        instruments = current_app.extensions["icbt.instruments"]
    return instruments


def get_instrument(instrument_id: str) -> Instrument:
    try:
        return registry()[instrument_id]
    except KeyError:
        raise LookupError(f"no instrument with id {instrument_id!r} is loaded") from None
