"""The module library (``modules/<lang>/*.md``) and the tailoring rules, loaded once.

``init_app`` reads and checks everything at start-up: a bad file stops ``create_app`` with
a ``LibraryError`` naming the file, the field and the reason. The parsed library is kept on
the app (``app.extensions["icbt.content"]``); ``library()`` and ``rules()`` return it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from icbt.content.library import Library, LibraryError, Module, load_library
from icbt.tailoring.rules import TailoringRules, load_rules

__all__ = ["ContentStore", "LibraryError", "init_app", "library", "rules", "load_content"]


@dataclass(frozen=True)
class ContentStore:
    root: Path
    default_lang: str
    libraries: dict[str, Library]
    rules: TailoringRules

    def library(self, lang: str | None = None) -> Library:
        return self.libraries.get(lang or self.default_lang) or self.libraries[self.default_lang]


_CACHE: dict[tuple, ContentStore] = {}


def _signature(root: Path, languages: tuple[str, ...]) -> tuple:
    """What the files look like now (names, sizes, change times): reload only when it changes."""
    parts: list[tuple] = [(str(root.resolve()), languages)]
    for path in sorted([root / "tailoring.yaml", *[p for lang in languages for p in (root / lang).glob("*.md")]]):
        try:
            stat = path.stat()
            parts.append((str(path), stat.st_size, stat.st_mtime_ns))
        except FileNotFoundError:
            parts.append((str(path), None))
    return tuple(parts)


def load_content(root: Path | str, languages: tuple[str, ...] = ("en",)) -> ContentStore:
    """Load and check every language's library and the rules (cached while the files are unchanged)."""
    root = Path(root)
    key = _signature(root, languages)
    store = _CACHE.get(key)
    if store is None:
        libraries = {lang: load_library(root, lang) for lang in languages if lang == languages[0] or (root / lang).is_dir()}
        default = libraries[languages[0]]
        store = ContentStore(root=root, default_lang=languages[0], libraries=libraries,
                             rules=load_rules(root, default))
        _CACHE.clear()
        _CACHE[key] = store
    return store


def init_app(app: Flask) -> None:
    languages = tuple(app.config.get("LANGUAGES") or ("en",))
    app.extensions["icbt.content"] = load_content(Path(app.config["MODULES_DIR"]), languages)

    from icbt.content.filters import register_filters

    register_filters(app)


def store() -> ContentStore:
    return current_app.extensions["icbt.content"]


def library(lang: str | None = None) -> Library:
    return store().library(lang)


def rules() -> TailoringRules:
    return store().rules


def module(module_id: str, lang: str | None = None) -> Module | None:
    return library(lang).get(module_id)
