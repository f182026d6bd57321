"""Message text: what is stored (no NUL or invisible control characters) and what is shown
(a small Markdown subset, sanitised whatever the input)."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icbt.messaging.text import clean_text, render_message

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<svg onload=alert(1)>",
    '<p onclick="alert(1)">hi</p>',
    "*<b onmouseover=alert(1)>x</b>*",
    "<<script>script>alert(1)<</script>/script>",
    "<iframe src=javascript:alert(1)></iframe>",
    "![x](javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
]


def _tags(html: str) -> set[str]:
    return {m.lower() for m in re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", html)}


@pytest.mark.parametrize("attack", ATTACKS)
def test_rendering_never_yields_active_content(attack: str) -> None:
    html = str(render_message(attack))
    assert _tags(html) <= {"p", "br", "ul", "ol", "li", "em", "strong"}
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.I), html  # no event handler attribute
    assert not re.search(r"<[^>]*(href|src)\s*=", html, re.I), html  # no link or source at all
    assert "<script" not in html.lower()


def test_the_markdown_subset_renders() -> None:
    html = str(render_message("First *soft* and **strong**.\nSame paragraph.\n\n- one\n- two\n\n1. a\n2. b"))
    assert "<em>soft</em>" in html and "<strong>strong</strong>" in html
    assert "<br" in html
    assert html.count("<p>") == 1
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>a</li>\n<li>b</li>\n</ol>" in html


def test_headings_code_and_images_stay_plain_text() -> None:
    html = str(render_message("# Big\n\n`code`\n\n![pic](https://example.org/p.png)"))
    assert "<h1" not in html and "<code" not in html and "<img" not in html
    assert "# Big" in html and "`code`" in html


def test_links_are_shown_as_text_with_their_address() -> None:
    html = str(render_message("See [the clinic page](https://example.org/help?a=1&b=2) today"))
    assert "<a" not in html
    assert "See the clinic page (https://example.org/help?a=1&amp;b=2) today" in html


def test_javascript_link_is_left_as_inert_text() -> None:
    html = str(render_message("[x](javascript:alert(1))"))
    assert "javascript:alert(1)" in html  # shown, so the reader sees what was written
    assert "href" not in html


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("a\x00b", "ab"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("bell\x07 esc\x1b del\x7f c1\x85", "bell esc del c1"),
        ("bidi \u202eevil\u202c text", "bidi evil text"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("tab\tstays", "tab\tstays"),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", "family \U0001f468\u200d\U0001f469\u200d\U0001f467"),
        ("para\u2029graph", "para\n\ngraph"),
        ("ä ö å ß 日本", "ä ö å ß 日本"),
    ],
)
def test_clean_text_strips_invisible_characters(raw: str, stored: str) -> None:
    assert clean_text(raw) == stored


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_cleaned_text_has_no_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    assert all(c in "\n\t" or not (ord(c) < 32 or 0x7F <= ord(c) < 0xA0) for c in cleaned)
    assert clean_text(cleaned) == cleaned  # idempotent


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ab*_-[]():\n javascrip onerr")), max_size=80))
def test_rendered_html_only_has_allowed_tags(text: str) -> None:
    html = str(render_message(text))
    assert _tags(html) <= {"p", "br", "ul", "ol", "li", "em", "strong"}
    assert not re.search(r"<[a-z]+\s", html)  # no attributes at all
