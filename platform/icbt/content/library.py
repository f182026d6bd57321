"""The module library: loading and strictly validating ``modules/<lang>/*.md``.

A module file is YAML front matter (between ``---`` lines) and a Markdown body whose
level-1 headings start the pages (see ``modules/README.md``). ``load_library`` reads every
file, collects every problem it finds and raises one ``LibraryError`` that names, for each
problem, the file, the field and the reason. Nothing here touches a database or an app.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from markdown_it import MarkdownIt

from icbt.tailoring.problems import PROBLEM_KEYS

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FIELD_TYPES = ("text", "number", "scale", "choice", "rows")
COLUMN_TYPES = ("text", "number", "scale", "choice")
MIN_PAGES, MAX_PAGES = 3, 6
TEXT_MAX_LENGTH = 2000
MAX_SCALE_SPAN = 100
MAX_ROWS = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the library: where (file, field) and why."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class LibraryError(Exception):
    """The library (or the tailoring rules) cannot be used. ``problems`` lists each reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"The module library has {n} problem{'s' if n != 1 else ''}:\n{lines}")


# ------------------------------------------------------------------ the parsed library

@dataclass(frozen=True)
class FieldSpec:
    """One field of a worksheet (or one column of a ``rows`` field)."""

    id: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    max_length: int = TEXT_MAX_LENGTH
    multiline: bool = True
    min: float | None = None
    max: float | None = None
    step: float | None = None  # None: whole numbers
    min_label: str = ""
    max_label: str = ""
    options: tuple[str, ...] = ()
    min_rows: int = 0
    max_rows: int = 10
    columns: tuple[FieldSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "label": self.label}
        if self.help:
            out["help"] = self.help
        if self.required:
            out["required"] = True
        if self.type == "text":
            out["max_length"] = self.max_length
            out["multiline"] = self.multiline
        if self.type in ("number", "scale"):
            out["min"], out["max"] = self.min, self.max
        if self.type == "number" and self.step is not None:
            out["step"] = self.step
        if self.type == "scale":
            out["min_label"], out["max_label"] = self.min_label, self.max_label
        if self.type == "choice":
            out["options"] = list(self.options)
        if self.type == "rows":
            out["min_rows"], out["max_rows"] = self.min_rows, self.max_rows
            out["columns"] = [c.to_dict() for c in self.columns]
        return out


@dataclass(frozen=True)
class Worksheet:
    id: str
    title: str
    intro: str
    fields: tuple[FieldSpec, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "intro": self.intro,
                "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True)
class Page:
    title: str
    markdown: str


@dataclass(frozen=True)
class Module:
    id: str
    version: int
    title: str
    summary: str
    targets: tuple[str, ...]
    track: str
    order: int
    estimated_minutes: int
    worksheets: tuple[Worksheet, ...]
    pages: tuple[Page, ...]
    lang: str = "en"
    path: str = ""
    content_hash: str = ""

    def worksheet(self, worksheet_id: str) -> Worksheet | None:
        return next((w for w in self.worksheets if w.id == worksheet_id), None)

    @property
    def word_count(self) -> int:
        words = re.findall(r"[A-Za-z0-9\u00C0-\u024F']+", " ".join(p.title + " " + p.markdown for p in self.pages))
        return len(words)

    def snapshot(self) -> dict[str, Any]:
        """Everything a patient's plan needs to show this version later, as plain data."""
        return {
            "id": self.id, "version": self.version, "lang": self.lang, "title": self.title,
            "summary": self.summary, "targets": list(self.targets), "track": self.track,
            "order": self.order, "estimated_minutes": self.estimated_minutes,
            "pages": [{"title": p.title, "markdown": p.markdown} for p in self.pages],
            "worksheets": [w.to_dict() for w in self.worksheets],
        }


@dataclass
class Library:
    lang: str
    modules: dict[str, Module] = field(default_factory=dict)

    def __contains__(self, module_id: object) -> bool:
        return module_id in self.modules

    def __iter__(self) -> Iterator[Module]:
        return iter(sorted(self.modules.values(), key=lambda m: (m.track, m.order, m.id)))

    def __len__(self) -> int:
        return len(self.modules)

    def get(self, module_id: str) -> Module | None:
        return self.modules.get(module_id)

    def track(self, track: str) -> list[Module]:
        return sorted((m for m in self.modules.values() if m.track == track), key=lambda m: m.order)


# ------------------------------------------------------------------ module from plain data

def module_from_snapshot(data: dict[str, Any]) -> Module:
    """Rebuild a ``Module`` from ``Module.snapshot()`` output (already validated when stored)."""
    return Module(
        id=data["id"], version=int(data["version"]), title=data["title"], summary=data.get("summary", ""),
        targets=tuple(data.get("targets", ())), track=data.get("track", ""), order=int(data.get("order", 0)),
        estimated_minutes=int(data.get("estimated_minutes", 0)),
        worksheets=tuple(_worksheet_from_dict(w) for w in data.get("worksheets", ())),
        pages=tuple(Page(p["title"], p["markdown"]) for p in data.get("pages", ())),
        lang=data.get("lang", "en"),
    )


def _field_from_dict(d: dict[str, Any]) -> FieldSpec:
    kwargs = {k: v for k, v in d.items() if k not in ("columns", "options")}
    return FieldSpec(
        **kwargs,
        options=tuple(d.get("options", ())),
        columns=tuple(_field_from_dict(c) for c in d.get("columns", ())),
    )


def _worksheet_from_dict(d: dict[str, Any]) -> Worksheet:
    return Worksheet(id=d["id"], title=d["title"], intro=d.get("intro", ""),
                     fields=tuple(_field_from_dict(f) for f in d["fields"]))


# ------------------------------------------------------------------ validation

class _Checker:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, field_: str, reason: str) -> None:
        self.problems.append(Problem(self.file, field_, reason))

    def string(self, data: dict, key: str, where: str, *, required: bool = True, max_length: int = 300) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.add(where, "is missing")
            return ""
        if not isinstance(value, str):
            self.add(where, f"must be text, not {_kind(value)}")
            return ""
        value = value.strip()
        if required and not value:
            self.add(where, "must not be empty")
        if len(value) > max_length:
            self.add(where, f"is {len(value)} characters long; at most {max_length} are allowed")
        return value

    def integer(self, data: dict, key: str, where: str, *, required: bool = True,
                minimum: int | None = None, maximum: int | None = None, default: int | None = None) -> int | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(where, "is missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be a whole number, not {_kind(value)}")
            return default
        if minimum is not None and value < minimum:
            self.add(where, f"must be at least {minimum} (found {value})")
        if maximum is not None and value > maximum:
            self.add(where, f"must be at most {maximum} (found {value})")
        return value

    def number(self, data: dict, key: str, where: str, *, required: bool = False) -> float | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(where, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(where, f"must be a number, not {_kind(value)}")
            return None
        return value

    def boolean(self, data: dict, key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.add(where, f"must be true or false, not {_kind(value)}")
            return default
        return value

    def identifier(self, data: dict, key: str, where: str) -> str:
        value = self.string(data, key, where, max_length=64)
        if value and not ID_PATTERN.match(value):
            self.add(where, f"{value!r} must use only lower-case letters, digits and single hyphens")
        return value

    def known_keys(self, data: dict, allowed: Iterable[str], where: str) -> None:
        allowed = set(allowed)
        for key in data:
            if key not in allowed:
                prefix = f"{where}." if where else ""
                self.add(f"{prefix}{key}", f"is not a known field (known: {', '.join(sorted(allowed))})")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


MODULE_KEYS = ("id", "version", "title", "summary", "targets", "track", "order", "estimated_minutes", "worksheets")
WORKSHEET_KEYS = ("id", "title", "intro", "fields")
COMMON_FIELD_KEYS = ("id", "type", "label", "help", "required")
FIELD_KEYS = {
    "text": COMMON_FIELD_KEYS + ("max_length", "multiline"),
    "number": COMMON_FIELD_KEYS + ("min", "max", "step"),
    "scale": COMMON_FIELD_KEYS + ("min", "max", "min_label", "max_label"),
    "choice": COMMON_FIELD_KEYS + ("options",),
    "rows": COMMON_FIELD_KEYS + ("min_rows", "max_rows", "columns"),
}


def _check_field(c: _Checker, raw: Any, where: str, *, types: tuple[str, ...]) -> FieldSpec | None:
    if not isinstance(raw, dict):
        c.add(where, f"must be a mapping with id, type and label, not {_kind(raw)}")
        return None
    fid = c.identifier(raw, "id", f"{where}.id")
    if fid:
        where = re.sub(r"\[\d+\]$", f"[{fid}]", where)
    ftype = raw.get("type")
    if ftype not in types:
        c.add(f"{where}.type", f"must be one of {', '.join(types)} (found {ftype!r})")
        return None
    c.known_keys(raw, FIELD_KEYS[ftype], where)
    label = c.string(raw, "label", f"{where}.label", max_length=300)
    help_ = c.string(raw, "help", f"{where}.help", required=False, max_length=500)
    required = c.boolean(raw, "required", f"{where}.required", False)
    spec: dict[str, Any] = {"id": fid, "type": ftype, "label": label, "help": help_, "required": required}
    if ftype == "text":
        spec["max_length"] = c.integer(raw, "max_length", f"{where}.max_length", required=False,
                                       minimum=1, maximum=20000, default=TEXT_MAX_LENGTH)
        spec["multiline"] = c.boolean(raw, "multiline", f"{where}.multiline", True)
    elif ftype == "number":
        lo = c.number(raw, "min", f"{where}.min")
        hi = c.number(raw, "max", f"{where}.max")
        step = c.number(raw, "step", f"{where}.step")
        if lo is not None and hi is not None and lo >= hi:
            c.add(f"{where}.max", f"must be greater than min ({lo})")
        if step is not None and step <= 0:
            c.add(f"{where}.step", "must be greater than 0")
        spec.update(min=lo, max=hi, step=step)
    elif ftype == "scale":
        lo = c.integer(raw, "min", f"{where}.min")
        hi = c.integer(raw, "max", f"{where}.max")
        if lo is not None and hi is not None:
            if lo >= hi:
                c.add(f"{where}.max", f"must be greater than min ({lo})")
            elif hi - lo > MAX_SCALE_SPAN:
                c.add(f"{where}.max", f"a scale may span at most {MAX_SCALE_SPAN} points (found {lo}..{hi})")
        spec.update(min=lo, max=hi,
                    min_label=c.string(raw, "min_label", f"{where}.min_label", required=False, max_length=80),
                    max_label=c.string(raw, "max_label", f"{where}.max_label", required=False, max_length=80))
    elif ftype == "choice":
        options = raw.get("options")
        if not isinstance(options, list) or len(options) < 2:
            c.add(f"{where}.options", "must be a list of at least 2 options")
            options = []
        elif not all(isinstance(o, str) and o.strip() for o in options):
            c.add(f"{where}.options", "every option must be non-empty text")
            options = []
        elif len({o.strip() for o in options}) != len(options):
            c.add(f"{where}.options", "options must not repeat")
        spec["options"] = tuple(o.strip() for o in options)
    elif ftype == "rows":
        lo = c.integer(raw, "min_rows", f"{where}.min_rows", required=False, minimum=0, maximum=MAX_ROWS, default=0)
        hi = c.integer(raw, "max_rows", f"{where}.max_rows", required=False, minimum=1, maximum=MAX_ROWS, default=10)
        if lo is not None and hi is not None and lo > hi:
            c.add(f"{where}.max_rows", f"must be at least min_rows ({lo})")
        columns = _check_fields(c, raw.get("columns"), f"{where}.columns", COLUMN_TYPES, "column")
        spec.update(min_rows=lo or 0, max_rows=hi or 10, columns=tuple(columns))
    return FieldSpec(**spec)


def _check_fields(c: _Checker, raw: Any, where: str, types: Any, what: str) -> list[FieldSpec]:
    """A non-empty list of field definitions (worksheet fields or the columns of a rows field)."""
    if not isinstance(raw, list) or not raw:
        c.add(where, f"must be a list of at least one {what}")
        return []
    specs = [spec for i, item in enumerate(raw) if (spec := _check_field(c, item, f"{where}[{i}]", types=types))]
    _check_unique([spec.id for spec in specs], c, where, f"{what} id")
    return specs


def _check_unique(ids: list[str], c: _Checker, where: str, what: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            c.add(where, f"{what} {value!r} is used twice")
        seen.add(value)


def _check_worksheet(c: _Checker, raw: Any, where: str) -> Worksheet | None:
    if not isinstance(raw, dict):
        c.add(where, f"must be a mapping with id, title and fields, not {_kind(raw)}")
        return None
    wid = c.identifier(raw, "id", f"{where}.id")
    if wid:
        where = f"worksheets[{wid}]"
    c.known_keys(raw, WORKSHEET_KEYS, where)
    title = c.string(raw, "title", f"{where}.title", max_length=200)
    intro = c.string(raw, "intro", f"{where}.intro", required=False, max_length=2000)
    fields = _check_fields(c, raw.get("fields"), f"{where}.fields", FIELD_TYPES, "field")
    return Worksheet(id=wid, title=title, intro=intro, fields=tuple(fields))


_MD = MarkdownIt("commonmark")


def split_pages(body: str, c: _Checker) -> list[Page]:
    """Split the Markdown body on level-1 headings (``# Title`` or setext ``===``)."""
    lines = body.split("\n")
    tokens = _MD.parse(body)
    heads: list[tuple[int, int, str]] = []  # (first line, line after heading, title)
    for i, token in enumerate(tokens):
        if token.type in ("html_block", "html_inline"):
            line = token.map[0] + 1 if token.map else "?"
            c.add(f"body (line {line})", "raw HTML is not allowed in module text; use Markdown")
        if token.type == "inline" and token.children:
            if any(child.type == "html_inline" for child in token.children):
                line = token.map[0] + 1 if token.map else "?"
                c.add(f"body (line {line})", "raw HTML is not allowed in module text; use Markdown")
        if token.type == "heading_open" and token.tag == "h1" and token.map:
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            heads.append((token.map[0], token.map[1], title))
    if not heads:
        c.add("body", "has no page: each page starts with a level-1 heading ('# Title')")
        return []
    before = "\n".join(lines[: heads[0][0]]).strip()
    if before:
        c.add("body", "has text before the first level-1 heading; every page starts with '# Title'")
    pages: list[Page] = []
    for n, (start, after, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        text = "\n".join(lines[after:end]).strip()
        where = f"pages[{n + 1}]"
        if not title:
            c.add(f"{where}.title", "the heading is empty")
        elif len(title) > 200:
            c.add(f"{where}.title", "is longer than 200 characters")
        if not text:
            c.add(where, f"page {title!r} has no text")
        pages.append(Page(title=title, markdown=text))
    if not MIN_PAGES <= len(pages) <= MAX_PAGES:
        c.add("pages", f"a module has {MIN_PAGES} to {MAX_PAGES} pages; found {len(pages)}")
    return pages


def split_front_matter(text: str, c: _Checker) -> tuple[dict | None, str, int]:
    """(front matter mapping or None, body, line number where the body starts)."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    if not text.startswith("---\n"):
        c.add("front matter", "the file must start with a line '---' followed by YAML front matter")
        return None, text, 1
    end = re.search(r"^---[ \t]*$", text[4:], flags=re.MULTILINE)
    if end is None:
        c.add("front matter", "has no closing '---' line")
        return None, "", 1
    yaml_text = text[4: 4 + end.start()]
    body = text[4 + end.end():]
    body_line = yaml_text.count("\n") + 3
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"front matter (line {mark.line + 2})" if mark is not None else "front matter"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        c.add(where, f"is not valid YAML: {problem}")
        return None, body, body_line
    if not isinstance(data, dict):
        c.add("front matter", f"must be a mapping of fields, not {_kind(data)}")
        return None, body, body_line
    return data, body, body_line


def parse_module(text: str, *, file: str, stem: str, lang: str) -> tuple[Module | None, list[Problem]]:
    """Parse and check one module file. Returns the module (None if unusable) and its problems."""
    c = _Checker(file)
    data, body, _ = split_front_matter(text, c)
    pages = split_pages(body, c) if body.strip() or data is not None else []
    if data is None:
        return None, c.problems
    c.known_keys(data, MODULE_KEYS, "")
    mid = c.identifier(data, "id", "id")
    if mid and mid != stem:
        c.add("id", f"{mid!r} must equal the file name ({stem!r})")
    version = c.integer(data, "version", "version", minimum=1)
    title = c.string(data, "title", "title", max_length=120)
    summary = c.string(data, "summary", "summary", max_length=600)
    targets_raw = data.get("targets")
    targets: list[str] = []
    if targets_raw is None:
        c.add("targets", "is missing (use [] for a fixed module)")
    elif not isinstance(targets_raw, list):
        c.add("targets", f"must be a list of problem keys, not {_kind(targets_raw)}")
    else:
        for t in targets_raw:
            if t not in PROBLEM_KEYS:
                c.add("targets", f"{t!r} is not a problem key (known: {', '.join(PROBLEM_KEYS)})")
            else:
                targets.append(t)
        _check_unique(targets, c, "targets", "problem key")
    track = c.string(data, "track", "track", max_length=64)
    if track and not re.match(r"^[a-z0-9_]+$", track):
        c.add("track", f"{track!r} must use only lower-case letters, digits and underscores")
    order = c.integer(data, "order", "order", minimum=1, maximum=50)
    minutes = c.integer(data, "estimated_minutes", "estimated_minutes", minimum=1, maximum=600)
    worksheets: list[Worksheet] = []
    ws_raw = data.get("worksheets")
    if not isinstance(ws_raw, list) or not ws_raw:
        c.add("worksheets", "must be a list of at least one worksheet")
    else:
        for i, w in enumerate(ws_raw):
            ws = _check_worksheet(c, w, f"worksheets[{i}]")
            if ws:
                worksheets.append(ws)
        _check_unique([w.id for w in worksheets], c, "worksheets", "worksheet id")
    if c.problems:
        return None, c.problems
    module = Module(
        id=mid, version=version or 0, title=title, summary=summary, targets=tuple(targets), track=track,
        order=order or 0, estimated_minutes=minutes or 0, worksheets=tuple(worksheets), pages=tuple(pages),
        lang=lang, path=file, content_hash=content_hash(text),
    )
    return module, []


def content_hash(text: str) -> str:
    """A fingerprint of a module file's content (line endings normalised)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def load_library(root: Path | str, lang: str = "en") -> Library:
    """Load and check ``root/<lang>/*.md``. Raises ``LibraryError`` listing every problem."""
    root = Path(root)
    folder = root / lang
    problems: list[Problem] = []
    library = Library(lang=lang)
    if not folder.is_dir():
        raise LibraryError([Problem(display_path(folder, root), "folder", "the module folder does not exist")])
    files = sorted(folder.glob("*.md"))
    files = [f for f in files if f.name.lower() != "readme.md"]
    if not files:
        raise LibraryError([Problem(display_path(folder, root), "folder", "contains no module files (*.md)")])
    for path in files:
        shown = display_path(path, root)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            problems.append(Problem(shown, "file", f"is not UTF-8 text ({error.reason} at byte {error.start})"))
            continue
        module, found = parse_module(text, file=shown, stem=path.stem, lang=lang)
        problems.extend(found)
        if module is None:
            continue
        if module.id in library.modules:
            problems.append(Problem(shown, "id", f"{module.id!r} is already used by {library.modules[module.id].path}"))
            continue
        library.modules[module.id] = module
    # Library-wide: a position within a track belongs to one module.
    seen: dict[tuple[str, int], Module] = {}
    for module in sorted(library.modules.values(), key=lambda m: m.path):
        key = (module.track, module.order)
        if key in seen:
            problems.append(Problem(module.path, "order",
                                    f"track {module.track!r} already has order {module.order} ({seen[key].path})"))
        seen[key] = module
    if problems:
        raise LibraryError(problems)
    return library
