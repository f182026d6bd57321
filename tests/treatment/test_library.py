"""The module library loader: the real library loads; every bad file is refused with its
file, field and reason; start-up stops on a bad library; rendered Markdown is safe."""
from __future__ import annotations

from pathlib import Path

import pytest

from icbt.content import load_content
from icbt.content.library import LibraryError, load_library
from icbt.content.render import render_markdown
from tests.conftest import make_test_app
from tests.treatment.library_fixture import README_TABLE, REAL_MODULES, module_text, write_library


# ------------------------------------------------------------------ the real library

def test_the_real_library_and_rules_load() -> None:
    content = load_content(REAL_MODULES)
    library = content.library()
    assert set(README_TABLE) <= {m.id for m in library}
    assert len(library) >= 14
    for module in library:
        assert 3 <= len(module.pages) <= 6, module.id
        assert module.worksheets, module.id
        assert module.word_count > 300, module.id
        assert len(module.content_hash) == 64
    assert content.rules.first == "intro" and content.rules.last == "relapse-prevention"
    # Every problem key of the README table is served by at least one module of the rules.
    for problem, modules in content.rules.problems.items():
        assert modules and all(problem in library.get(m).targets for m in modules)


def test_a_good_fixture_library_loads(tmp_path: Path) -> None:
    library = load_library(write_library(tmp_path), "en")
    module = library.get("panic-1")
    assert module is not None
    assert [p.title for p in module.pages] == ["Page one", "Page two", "Page three"]
    steps = module.worksheets[0].fields[4]
    assert steps.type == "rows" and [c.id for c in steps.columns] == ["step", "level"]
    assert library.track("panic") == [library.get("panic-1"), library.get("panic-2")]


# ------------------------------------------------------------------ bad files

WS_ONE_FIELD = """
  - id: sheet
    title: A worksheet
    fields:
      - {field}"""

BAD_FILES = [
    # (description, file text, field named in the error, words of the reason)
    ("missing title", module_text("panic-1").replace("title: Module panic-1\n", ""), "title", "missing"),
    ("version is text", module_text("panic-1", extra="").replace("version: 1", "version: one"), "version", "whole number"),
    ("id differs from file name", module_text("panic-1").replace("id: panic-1", "id: panic-9"), "id", "file name"),
    ("id with capitals", module_text("panic-1").replace("id: panic-1", "id: Panic-1"), "id", "lower-case"),
    ("unknown target", module_text("panic-1", targets=["panik"]), "targets", "not a problem key"),
    ("unknown top-level field", module_text("panic-1", extra="pages: 3\n"), "pages", "not a known field"),
    ("misspelt field key", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: text, label: A, requried: true}")), "worksheets[sheet].fields[a].requried", "not a known field"),
    ("unknown field type", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: slider, label: A}")), "worksheets[sheet].fields[a].type", "must be one of"),
    ("scale min not below max", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: scale, label: A, min: 10, max: 0}")), "worksheets[sheet].fields[a].max", "greater than min"),
    ("choice with one option", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: choice, label: A, options: [Only]}")), "worksheets[sheet].fields[a].options", "at least 2"),
    ("rows without columns", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: rows, label: A}")), "worksheets[sheet].fields[a].columns", "at least one column"),
    ("rows column of type rows", module_text("panic-1", worksheets=WS_ONE_FIELD.format(
        field="{id: a, type: rows, label: A, columns: [{id: b, type: rows, label: B}]}")),
     "worksheets[sheet].fields[a].columns[b].type", "must be one of"),
    ("duplicate field ids", module_text("panic-1", worksheets="""
  - id: sheet
    title: A worksheet
    fields:
      - {id: a, type: text, label: A}
      - {id: a, type: text, label: B}"""), "worksheets[sheet].fields", "used twice"),
    ("no worksheet", module_text("panic-1", worksheets=" []"), "worksheets", "at least one worksheet"),
    ("two pages only", module_text("panic-1", body="# One\n\nText.\n\n# Two\n\nText.\n"), "pages", "3 to 6 pages"),
    ("empty page", module_text("panic-1", body="# One\n\nText.\n\n# Two\n\n# Three\n\nText.\n"), "pages[2]", "no text"),
    ("text before the first page", module_text("panic-1", body="Intro line.\n\n" + "# A\n\nx\n\n# B\n\nx\n\n# C\n\nx\n"),
     "body", "before the first level-1 heading"),
    ("raw HTML", module_text("panic-1", body="# A\n\n<script>alert(1)</script>\n\n# B\n\nx\n\n# C\n\nx\n"),
     "body (line", "raw HTML"),
    ("raw inline HTML", module_text("panic-1", body="# A\n\nHello <b onclick='x()'>you</b>\n\n# B\n\nx\n\n# C\n\nx\n"),
     "body (line", "raw HTML"),
    ("broken YAML", module_text("panic-1").replace("summary: A short summary.", "summary: [unclosed"),
     "front matter (line", "not valid YAML"),
    ("no front matter", "# A\n\nx\n\n# B\n\nx\n\n# C\n\nx\n", "front matter", "must start with"),
    ("front matter not closed", "---\nid: panic-1\n# A\n", "front matter", "no closing"),
    ("same track and order as another", module_text("panic-1", order=2), "order", "already has order 2"),
]


@pytest.mark.parametrize(("text", "field", "reason"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_refused_naming_file_field_and_reason(tmp_path: Path, text: str, field: str, reason: str) -> None:
    write_library(tmp_path, {"panic-1": text})
    with pytest.raises(LibraryError) as caught:
        load_library(tmp_path, "en")
    problems = caught.value.problems
    assert problems, "a LibraryError must list its problems"
    matching = [p for p in problems if p.field.startswith(field) and reason in p.reason]
    assert matching, f"expected {field!r} / {reason!r}, got: {[str(p) for p in problems]}"
    assert all(p.file.endswith(".md") for p in problems)
    # The error is on the bad file, or (a clash between two files) names it.
    assert any(p.file.endswith("en/panic-1.md") or "en/panic-1.md" in p.reason for p in matching)
    message = str(caught.value)
    assert "panic-1.md" in message and field.split("(")[0].strip() in message


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    write_library(tmp_path, {
        "panic-1": module_text("panic-1").replace("title: Module panic-1\n", ""),
        "worry-1": module_text("worry-1", targets=["worries"]),
        "sleep-1": module_text("sleep-1", body="# Only\n\nx\n"),
    })
    with pytest.raises(LibraryError) as caught:
        load_library(tmp_path, "en")
    by_file = {(Path(p.file).name, p.field) for p in caught.value.problems}
    assert {("panic-1.md", "title"), ("worry-1.md", "targets"), ("sleep-1.md", "pages")} <= by_file


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    write_library(tmp_path)
    (tmp_path / "en" / "panic-1.md").write_bytes(b"---\nid: panic-1\ntitle: caf\xe9\n---\n")
    with pytest.raises(LibraryError) as caught:
        load_library(tmp_path, "en")
    assert [(Path(p.file).name, p.field) for p in caught.value.problems] == [("panic-1.md", "file")]


def test_an_empty_or_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="does not exist"):
        load_library(tmp_path, "en")
    (tmp_path / "en").mkdir()
    with pytest.raises(LibraryError, match="no module files"):
        load_library(tmp_path, "en")


# ------------------------------------------------------------------ start-up

def test_a_bad_library_stops_start_up(tmp_path: Path) -> None:
    modules = write_library(tmp_path / "modules", {"panic-1": module_text("panic-1", worksheets=" []")})
    with pytest.raises(LibraryError) as caught:
        make_test_app("sqlite://", tmp_path, MODULES_DIR=modules)
    assert "panic-1.md: worksheets: must be a list of at least one worksheet" in str(caught.value)


def test_the_app_caches_the_library_it_started_with(tmp_path: Path) -> None:
    modules = write_library(tmp_path / "modules")
    app = make_test_app("sqlite://", tmp_path, MODULES_DIR=modules)
    with app.app_context():
        from icbt.content import library

        assert library().get("panic-1").title == "Module panic-1"
        assert library() is library()


# ------------------------------------------------------------------ rendering

@pytest.mark.parametrize(
    ("markdown", "absent", "present"),
    [
        ("<script>alert(1)</script>", "<script", "&lt;script&gt;"),
        ("[x](javascript:alert(1))", 'href="javascript', "[x](javascript:alert(1))"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", 'href="data:', "[x]("),
        ('<img src=x onerror="alert(1)">', "<img", "&lt;img"),
        ("[ok](https://example.org)", "javascript", 'href="https://example.org" rel="noopener noreferrer nofollow"'),
        ("## Sub heading", "<h2", "<h3>Sub heading</h3>"),
    ],
)
def test_rendered_markdown_is_sanitised(markdown: str, absent: str, present: str) -> None:
    html = render_markdown(markdown)
    assert absent not in html
    assert present in html


def test_content_check_finds_a_module_changed_without_a_version_bump(app, database_url, tmp_path: Path) -> None:
    from icbt.content import store
    from icbt.content.services import snapshot_module
    from icbt.extensions import db

    modules = write_library(tmp_path / "modules")
    first = make_test_app(database_url, tmp_path, MODULES_DIR=modules)
    with first.app_context():
        snapshot_module(db.session, store().library().get("panic-1"))
        db.session.commit()
        assert first.test_cli_runner().invoke(args=["content", "check"]).exit_code == 0
    (modules / "en" / "panic-1.md").write_text(module_text("panic-1", body=module_text("x").split("---\n")[-1] + "\nMore.\n"))
    second = make_test_app(database_url, tmp_path, MODULES_DIR=modules)
    with second.app_context():
        result = second.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert "panic-1.md: version 1 was changed after it was given to patients" in result.output
    listing = second.test_cli_runner().invoke(args=["content", "list"])
    assert "17 modules" in listing.output
    for other in (first, second):
        other.extensions["icbt.db"].dispose()
