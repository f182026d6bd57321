"""Checks on the module library files themselves, read directly with PyYAML.

These tests do not use the application's loader (that lives in icbt.content); they check
the text files so that a broken or incomplete library is caught even before the loader runs.
"""
import re
from pathlib import Path

import pytest
import yaml

MODULES_DIR = Path(__file__).resolve().parents[2] / "modules"
EN_DIR = MODULES_DIR / "en"
REQUIRED_KEYS = {"id", "version", "title", "summary", "targets", "track", "order",
                 "estimated_minutes", "worksheets"}
PROBLEM_KEYS = {"panic", "agoraphobia", "social_anxiety", "gad", "health_anxiety", "ptsd",
                "depression", "insomnia", "stress"}
FIELD_TYPES = {"text", "number", "scale", "choice", "rows"}
ID_RE = re.compile(r"^[a-z0-9-]+$")
HTML_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


def readme_ids():
    """The module ids listed in the library table of modules/README.md."""
    text = (MODULES_DIR / "README.md").read_text(encoding="utf-8")
    table = text.split("## The library (ids)", 1)[1]
    ids = []
    for line in table.splitlines():
        if line.startswith("|") and "`" in line:
            first_cell = line.split("|")[1]
            ids.extend(re.findall(r"`([a-z0-9-]+)`", first_cell))
    return ids


def split_module(path):
    """Return (front matter dict, list of (page title, page body))."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, f"{path.name}: no YAML front matter between --- lines"
    meta = yaml.safe_load(match.group(1))
    pages = []
    for chunk in re.split(r"^# ", match.group(2), flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        pages.append((title.strip(), body))
    before_first = re.split(r"^# ", match.group(2), flags=re.M)[0]
    assert not before_first.strip(), f"{path.name}: text before the first page heading"
    return meta, pages


MODULE_FILES = sorted(EN_DIR.glob("*.md"))


def fields_of(worksheet):
    for field in worksheet["fields"]:
        yield field
        for column in field.get("columns", []) if field["type"] == "rows" else []:
            yield column


def test_readme_table_is_parsed():
    ids = readme_ids()
    assert "intro" in ids and "relapse-prevention" in ids
    assert len(ids) == len(set(ids))


def test_every_listed_id_has_a_file_and_no_extra_files():
    files = {p.stem for p in MODULE_FILES}
    assert set(readme_ids()) == files


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.stem)
def test_front_matter(path):
    meta, _ = split_module(path)
    assert isinstance(meta, dict)
    missing = REQUIRED_KEYS - meta.keys()
    assert not missing, f"{path.name}: missing {sorted(missing)}"
    assert meta["id"] == path.stem
    assert ID_RE.match(meta["id"])
    assert isinstance(meta["version"], int) and meta["version"] >= 1
    assert isinstance(meta["order"], int) and meta["order"] >= 1
    assert isinstance(meta["estimated_minutes"], int) and 5 <= meta["estimated_minutes"] <= 120
    assert isinstance(meta["title"], str) and meta["title"].strip()
    assert isinstance(meta["summary"], str) and meta["summary"].strip()
    assert isinstance(meta["targets"], list)
    assert set(meta["targets"]) <= PROBLEM_KEYS, f"{path.name}: unknown targets"


def test_tracks_and_orders_match_readme():
    text = (MODULES_DIR / "README.md").read_text(encoding="utf-8")
    rows = [line for line in text.split("## The library (ids)", 1)[1].splitlines()
            if line.startswith("| `")]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ids = re.findall(r"`([a-z0-9-]+)`", cells[0])
        track, orders = cells[1].split("/", 1)
        order_numbers = [int(n) for n in re.findall(r"\d+", orders)]
        targets = set(re.findall(r"[a-z_]+", cells[2]))
        for module_id, order in zip(ids, order_numbers):
            meta, _ = split_module(EN_DIR / f"{module_id}.md")
            assert meta["track"] == track.strip(), module_id
            assert meta["order"] == order, module_id
            assert set(meta["targets"]) == targets, module_id


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.stem)
def test_three_to_six_pages_with_titles_and_text(path):
    _, pages = split_module(path)
    assert 3 <= len(pages) <= 6, f"{path.name}: {len(pages)} pages"
    for title, body in pages:
        assert title, f"{path.name}: empty page title"
        assert len(body.split()) >= 100, f"{path.name}: page '{title}' is very short"


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.stem)
def test_worksheets_and_fields(path):
    meta, _ = split_module(path)
    worksheets = meta["worksheets"]
    assert isinstance(worksheets, list) and worksheets, f"{path.name}: no worksheet"
    assert len({w["id"] for w in worksheets}) == len(worksheets)
    for worksheet in worksheets:
        assert ID_RE.match(worksheet["id"])
        assert worksheet.get("title")
        top_ids = [f["id"] for f in worksheet["fields"]]
        assert len(top_ids) == len(set(top_ids)), f"{path.name}/{worksheet['id']}: duplicate field id"
        for field in worksheet["fields"]:
            if field["type"] == "rows":
                col_ids = [c["id"] for c in field["columns"]]
                assert len(col_ids) == len(set(col_ids)), f"{path.name}: duplicate column id in {field['id']}"
                assert 1 <= field["min_rows"] <= field["max_rows"]
                assert all(c["type"] in FIELD_TYPES - {"rows"} for c in field["columns"])
        for field in fields_of(worksheet):
            where = f"{path.name}/{worksheet['id']}/{field.get('id')}"
            assert ID_RE.match(str(field.get("id", ""))), where
            assert field["type"] in FIELD_TYPES, where
            assert isinstance(field.get("label"), str) and field["label"].strip(), where
            if field["type"] in ("number", "scale"):
                assert field["min"] < field["max"], where
            if field["type"] == "scale":
                assert field.get("min_label") and field.get("max_label"), where
            if field["type"] == "choice":
                options = field["options"]
                # YAML 1.1 turns bare Yes/No/On/Off into booleans: every option must stay a string.
                assert all(isinstance(o, str) and o for o in options), where
                assert len(options) >= 2 and len(set(options)) == len(options), where
            if field["type"] == "text" and "max_length" in field:
                assert 1 <= field["max_length"] <= 10000, where


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.stem)
def test_bodies_have_no_html_images_or_links(path):
    _, pages = split_module(path)
    for title, body in pages:
        assert not HTML_TAG_RE.search(body), f"{path.name}: raw HTML in page '{title}'"
        assert "![" not in body, f"{path.name}: image in page '{title}'"
        assert not re.search(r"\]\(|https?://", body), f"{path.name}: link in page '{title}'"


def test_html_detector_catches_tags():
    # guards the regex above: plain text with < and > must pass, tags must not
    assert HTML_TAG_RE.search("a <b>bold</b> word")
    assert HTML_TAG_RE.search('<img src="x">')
    assert not HTML_TAG_RE.search("fear < 5 and mood > 3")
