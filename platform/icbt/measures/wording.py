"""Licensed item wording: checked item by item against the definition, stored per trial.

A wording file (YAML or JSON) has the instrument's structure, with text instead of labels::

    instrument: core-om            # the definition it belongs to
    instrument_version: "1.0"      # optional; must equal the loaded definition's version
    wording_version: "trial-en-1"  # how administrations will name what was shown
    language: en
    copyright: "..."               # required when the definition says copyright_required
    title: "..."                   # optional
    instructions: "..."            # optional
    options:                       # scale-wide answer texts (or per item), same values
      - {value: 0, text: "..."}
    items:
      - {number: 1, text: "...", options: [...]?, domain: ...?, reversed: ...?}

The check refuses the file unless: the item count and numbers equal the definition's; the
option values equal the definition's for every item; every item has a text; and, where the
file also states an item's domain/subscale or reverse scoring, they agree with the
definition (a way to check a subscale key against the licensed manual).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.measures.instruments import Instrument
from icbt.measures.models import InstalledWording
from icbt.trials.models import Trial

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class WordingError(ValueError):
    """A wording file that does not fit its definition; ``problems`` lists every mismatch."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def read_wording_file(path: Path | str) -> tuple[dict[str, Any], str]:
    """Parse the file; return (data, sha256 of its bytes)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WordingError(str(path), ["the file is not UTF-8 text"]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise WordingError(str(path), [f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} ({error.__class__.__name__})"]) from None
    if not isinstance(data, Mapping):
        raise WordingError(str(path), ["the top level must be a mapping"])
    return dict(data), hashlib.sha256(raw).hexdigest()


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = _CONTROL.sub("", value).strip()
    return value or None


def _option_texts(raw: Any, where: str, problems: list[str]) -> dict[int, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        problems.append(f"{where}: options must be a list of {{value, text}}")
        return None
    texts: dict[int, str] = {}
    for n, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), int) or isinstance(entry.get("value"), bool):
            problems.append(f"{where}: option {n + 1} needs a whole-number value")
            continue
        text = _text(entry.get("text") if entry.get("text") is not None else entry.get("label"))
        if text is None:
            problems.append(f"{where}: option with value {entry['value']} has no text")
            continue
        if entry["value"] in texts:
            problems.append(f"{where}: option value {entry['value']} appears twice")
        texts[entry["value"]] = text
    return texts


def check_wording(instrument: Instrument, data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Compare a wording file with the definition; return the content to store or raise
    :class:`WordingError` listing every problem (count, numbers, options, texts)."""
    problems: list[str] = []
    if data.get("instrument") != instrument.id:
        problems.append(f"instrument is {data.get('instrument')!r}, expected {instrument.id!r}")
    version = data.get("instrument_version")
    if version is not None and str(version) != instrument.version:
        problems.append(f"instrument_version {version!r} does not match the definition's {instrument.version!r}")
    wording_version = _text(data.get("wording_version"))
    if wording_version is None or len(wording_version) > 64:
        problems.append("wording_version is required (at most 64 characters)")
    copyright_line = _text(data.get("copyright"))
    if instrument.copyright_required and copyright_line is None:
        problems.append("copyright is required for this instrument (it is shown wherever its wording is shown)")
    scale = _option_texts(data.get("options"), "options", problems)
    items = data.get("items")
    if not isinstance(items, list):
        problems.append("items must be a list")
        items = []
    expected = list(instrument.item_numbers)
    numbers = [i.get("number") if isinstance(i, Mapping) else None for i in items]
    if len(items) != len(expected):
        problems.append(f"{len(items)} items, the definition has {len(expected)}")
    if numbers != expected:
        missing = sorted(set(expected) - {n for n in numbers if isinstance(n, int)})
        extra = [n for n in numbers if n not in expected]
        detail = []
        if missing:
            detail.append(f"missing {missing}")
        if extra:
            detail.append(f"unknown {extra}")
        if not detail:
            detail.append("not in the definition's order")
        problems.append("item numbers differ: " + ", ".join(detail))
    stored_items: dict[str, Any] = {}
    for entry in items:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("number"), int):
            continue
        number = entry["number"]
        try:
            item = instrument.item(number)
        except KeyError:
            continue
        where = f"item {number}"
        text = _text(entry.get("text"))
        if text is None:
            problems.append(f"{where}: text is missing")
        options = _option_texts(entry.get("options"), where, problems)
        texts = options if options is not None else scale
        if texts is None:
            problems.append(f"{where}: no answer texts (give options for the scale or the item)")
        elif sorted(texts) != list(item.values):
            problems.append(f"{where}: answer values {sorted(texts)} differ from the definition's {list(item.values)}")
        if "domain" in entry and entry["domain"] != item.domain:
            problems.append(f"{where}: domain {entry['domain']!r} differs from the definition's {item.domain!r}")
        if "reversed" in entry and bool(entry["reversed"]) != item.reversed:
            problems.append(f"{where}: reversed={entry['reversed']!r} differs from the definition")
        stored_items[str(number)] = {
            "text": text,
            "options": {str(k): v for k, v in (options or {}).items()},
        }
    if problems:
        raise WordingError(source, problems)
    return {
        "wording_version": wording_version,
        "language": _text(data.get("language")) or "en",
        "copyright": copyright_line or instrument.wording_copyright,
        "title": _text(data.get("title")),
        "instructions": _text(data.get("instructions")),
        "content": {"items": stored_items, "options": {str(k): v for k, v in (scale or {}).items()}},
    }


def install_wording(session: Session, trial: Trial, instrument: Instrument, data: Mapping[str, Any], *,
                    source: str, sha256: str) -> tuple[InstalledWording, bool]:
    """Check and store; installing the same version with the same file again changes nothing
    (returns created=False); the same version with different content is refused."""
    checked = check_wording(instrument, data, source)
    from sqlalchemy import select

    existing = session.scalar(select(InstalledWording).where(
        InstalledWording.trial_id == trial.id, InstalledWording.instrument_id == instrument.id,
        InstalledWording.language == checked["language"], InstalledWording.wording_version == checked["wording_version"],
    ))
    if existing is not None:
        if existing.source_sha256 == sha256:
            return existing, False
        raise WordingError(source, [f"wording_version {checked['wording_version']!r} is already installed for this trial "
                                    "with different text; give the new text a new wording_version"])
    wording = InstalledWording(
        trial_id=trial.id, instrument_id=instrument.id, instrument_version=instrument.version,
        wording_version=checked["wording_version"], language=checked["language"], title=checked["title"],
        instructions=checked["instructions"], copyright=checked["copyright"], content=checked["content"],
        source_sha256=sha256,
    )
    session.add(wording)
    session.flush()
    record(session, "instrument.wording_install", target=wording,
           detail={"instrument": instrument.id, "wording_version": wording.wording_version, "trial": trial.slug})
    return wording, True


def item_texts(instrument: Instrument, wording: InstalledWording | None) -> dict[str, Any]:
    """What to show for each item and answer: the installed wording, else our own labels."""
    items: dict[int, dict[str, Any]] = {}
    content = wording.content if wording is not None else {}
    scale = (content or {}).get("options") or {}
    for item in instrument.items:
        installed = ((content or {}).get("items") or {}).get(str(item.number)) or {}
        option_texts = installed.get("options") or scale
        items[item.number] = {
            "text": installed.get("text") or item.label,
            "options": [(o.value, option_texts.get(str(o.value)) or o.label) for o in item.options],
        }
    return {
        "official": wording is not None,
        "title": (wording.title if wording is not None and wording.title else instrument.title),
        "instructions": (wording.instructions if wording is not None and wording.instructions else instrument.instructions),
        "copyright": wording.copyright if wording is not None else None,
        "wording_version": wording.wording_version if wording is not None else "",
        "items": items,
    }
