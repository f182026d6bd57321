"""Message text: cleaning on the way in, safe rendering on the way out (pure functions).

In: NUL bytes and invisible control or format characters are stripped (PostgreSQL refuses
NUL; bidirectional overrides and zero-width characters can disguise text). Line breaks and
tabs stay; CR LF becomes LF. The zero-width joiner and non-joiner stay, because emoji
sequences and several scripts need them.

Out: a small Markdown subset (paragraphs, line breaks, bulleted and numbered lists,
emphasis) through markdown-it-py with raw HTML off, links written out as their text followed
by their address (never a clickable link: a message must not be a phishing vector), then
nh3 with an allow-list of tags and no attributes at all, as a second line of defence.
"""
from __future__ import annotations

import unicodedata

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

KEEP = {"\n", "\t", "\u200c", "\u200d"}
ALLOWED_TAGS = {"p", "br", "ul", "ol", "li", "em", "strong"}


def clean_text(value: str | None) -> str:
    """``value`` without NUL, control or invisible format characters; CR LF -> LF."""
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\u2028", "\n").replace("\u2029", "\n\n")
    out = []
    for char in value:
        if char in KEEP:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(char)
    return "".join(out)


def has_content(value: str) -> bool:
    return bool(value.strip())


def _link_open(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
    # The link's text is rendered as plain text; link_close appends the address.
    env.setdefault("_hrefs", []).append(tokens[idx].attrGet("href") or "")
    return ""


def _link_close(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
    href = env["_hrefs"].pop() if env.get("_hrefs") else ""
    return f" ({escape(href)})" if href else ""


def _build_renderer() -> MarkdownIt:
    md = MarkdownIt("zero", {"breaks": True, "html": False, "linkify": False})
    md.enable(["emphasis", "list", "link", "newline"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    return md


_MD = _build_renderer()


def render_message(body: str) -> Markup:
    """Safe HTML for a message body (the subset above), sanitised whatever the input."""
    html = _MD.render(clean_text(body), {})
    safe = nh3.clean(html, tags=ALLOWED_TAGS, attributes={}, url_schemes=set(), link_rel=None)
    return Markup(safe)


def snippet_of(body: str, length: int = 80) -> str:
    """A one-line preview (for the author's own lists only, never for e-mail or admins)."""
    line = " ".join(clean_text(body).split())
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"
