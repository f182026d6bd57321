"""The tailoring rules as data: ``modules/tailoring.yaml``, loaded and checked against the library.

A bad rules file stops start-up like a bad module file, with a ``LibraryError`` naming the
file, the field and the reason.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from icbt.content.library import Library, LibraryError, Problem, display_path
from icbt.tailoring.problems import PROBLEM_KEYS, SEVERITIES

RULE_KEYS = ("version", "first", "last", "primary", "comorbid", "fill_to", "fill_with", "problems", "screeners")
ALL = "all"


@dataclass(frozen=True)
class TailoringRules:
    version: int
    first: str
    last: str
    # How many modules of its list a problem is given, by role and severity (None: all).
    primary: dict[str, int | None]
    comorbid: dict[str, int | None]
    fill_to: int
    fill_with: tuple[str, ...]
    # Each problem's modules in the order they help most; the key order is the tie-break
    # between comorbid problems of the same severity.
    problems: dict[str, tuple[str, ...]]
    # Which screening questionnaire speaks to a problem ({"gad": "gad-7"}): its score is cited
    # in the reason of that problem's modules. Optional; does not change what is chosen.
    screeners: dict[str, str] = dataclasses.field(default_factory=dict)

    def entitlement(self, problem: str, role: str, severity: str) -> int:
        """How many of ``problem``'s modules a problem of this role and severity is given."""
        table = self.primary if role == "primary" else self.comorbid
        n = table[severity]
        available = len(self.problems[problem])
        return available if n is None else min(n, available)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "first": self.first, "last": self.last,
            "primary": dict(self.primary), "comorbid": dict(self.comorbid), "fill_to": self.fill_to,
            "fill_with": list(self.fill_with), "problems": {k: list(v) for k, v in self.problems.items()},
            "screeners": dict(self.screeners),
        }


def _severity_table(raw: Any, where: str, add) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    table: dict[str, int | None] = {}
    if not isinstance(raw, dict):
        add(where, "must map each severity (mild, moderate, severe) to a number of modules or 'all'")
        return {s: None for s in SEVERITIES}
    for key in raw:
        if key not in SEVERITIES:
            add(f"{where}.{key}", f"is not a severity (use {', '.join(SEVERITIES)})")
    for severity in SEVERITIES:
        value = raw.get(severity)
        if value == ALL:
            table[severity] = None
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 20:
            table[severity] = value
        else:
            add(f"{where}.{severity}", f"must be a number of modules (0-20) or 'all', not {value!r}")
            table[severity] = None
    return table


def parse_rules(data: Any, library: Library, *, file: str) -> TailoringRules:
    problems: list[Problem] = []

    def add(field: str, reason: str) -> None:
        problems.append(Problem(file, field, reason))

    if not isinstance(data, dict):
        raise LibraryError([Problem(file, "file", "must be a YAML mapping of rules")])
    for key in data:
        if key not in RULE_KEYS:
            add(key, f"is not a known rule (known: {', '.join(RULE_KEYS)})")

    def module_ref(value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            add(where, f"must be a module id, not {value!r}")
            return ""
        if value not in library:
            add(where, f"module {value!r} is not in the library ({library.lang})")
        return value

    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        add("version", "must be a whole number of at least 1")
        version = 0
    first = module_ref(data.get("first"), "first")
    last = module_ref(data.get("last"), "last")
    if first and first == last:
        add("last", "must differ from first")
    for where, mid in (("first", first), ("last", last)):
        module = library.get(mid) if mid else None
        if module is not None and module.targets:
            add(where, f"the fixed module {mid!r} should target no problem (its targets: {list(module.targets)})")
    primary = _severity_table(data.get("primary"), "primary", add)
    comorbid = _severity_table(data.get("comorbid"), "comorbid", add)
    fill_to = data.get("fill_to", 0)
    if isinstance(fill_to, bool) or not isinstance(fill_to, int) or not 0 <= fill_to <= 52:
        add("fill_to", f"must be a number of modules (0-52), not {fill_to!r}")
        fill_to = 0
    fill_raw = data.get("fill_with", [])
    fill_with: list[str] = []
    if not isinstance(fill_raw, list):
        add("fill_with", "must be a list of module ids")
    else:
        for i, mid in enumerate(fill_raw):
            ref = module_ref(mid, f"fill_with[{i}]")
            if ref in fill_with:
                add(f"fill_with[{i}]", f"{ref!r} is listed twice")
            elif ref in (first, last):
                add(f"fill_with[{i}]", f"{ref!r} is a fixed module")
            elif ref:
                fill_with.append(ref)

    raw_problems = data.get("problems")
    lists: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw_problems, dict):
        add("problems", "must map every problem key to its list of modules")
        raw_problems = {}
    for key in raw_problems:
        if key not in PROBLEM_KEYS:
            add(f"problems.{key}", f"is not a problem key (known: {', '.join(PROBLEM_KEYS)})")
    for key in PROBLEM_KEYS:
        where = f"problems.{key}"
        modules = raw_problems.get(key)
        if not isinstance(modules, list) or not modules:
            add(where, "is missing or empty: every problem needs at least one module")
            continue
        refs: list[str] = []
        for i, mid in enumerate(modules):
            ref = module_ref(mid, f"{where}[{i}]")
            if not ref:
                continue
            if ref in refs:
                add(f"{where}[{i}]", f"{ref!r} is listed twice")
                continue
            if ref in (first, last):
                add(f"{where}[{i}]", f"{ref!r} is a fixed module and is always in the plan")
                continue
            module = library.get(ref)
            if module is not None and key not in module.targets:
                add(f"{where}[{i}]", f"module {ref!r} does not target {key!r} (its targets: {list(module.targets)})")
            refs.append(ref)
        # Within one track the list must keep the track's order (panic-1 before panic-2).
        last_order: dict[str, int] = {}
        for ref in refs:
            module = library.get(ref)
            if module is None:
                continue
            if module.order < last_order.get(module.track, 0):
                add(where, f"{ref!r} comes after a later module of track {module.track!r}; keep the track's order")
            last_order[module.track] = module.order
        lists[key] = tuple(refs)
    raw_screeners = data.get("screeners", {})
    screeners: dict[str, str] = {}
    if not isinstance(raw_screeners, dict):
        add("screeners", "must map problem keys to screening questionnaire ids (e.g. gad: gad-7)")
        raw_screeners = {}
    for key, instrument in raw_screeners.items():
        if key not in PROBLEM_KEYS:
            add(f"screeners.{key}", f"is not a problem key (known: {', '.join(PROBLEM_KEYS)})")
        elif not isinstance(instrument, str) or not instrument.strip():
            add(f"screeners.{key}", f"must be a questionnaire id, not {instrument!r}")
        else:
            screeners[key] = instrument.strip()
    if problems:
        raise LibraryError(problems)
    # Keep the order of PROBLEM_KEYS: it is the documented tie-break.
    return TailoringRules(version=version, first=first, last=last, primary=primary, comorbid=comorbid,
                          fill_to=fill_to, fill_with=tuple(fill_with), problems=lists, screeners=screeners)


def load_rules(root: Path | str, library: Library, filename: str = "tailoring.yaml") -> TailoringRules:
    root = Path(root)
    path = root / filename
    shown = display_path(path, root)
    if not path.is_file():
        raise LibraryError([Problem(shown, "file", "the tailoring rules file does not exist")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise LibraryError([Problem(shown, where, f"is not valid YAML: {getattr(error, 'problem', error)}")]) from None
    except UnicodeDecodeError as error:
        raise LibraryError([Problem(shown, "file", f"is not UTF-8 text ({error.reason})")]) from None
    return parse_rules(data, library, file=shown)
