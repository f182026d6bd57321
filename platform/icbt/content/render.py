"""Module Markdown to safe HTML.

markdown-it renders with raw HTML switched off (so ``<script>`` in a file shows as text),
headings inside a page are moved one level down (the page title is the page's ``h2``),
and nh3 then keeps only an allow-list of tags and attributes. Links keep only http(s)
and mailto addresses; external links get ``rel="noopener noreferrer nofollow"``.
"""
from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "pre",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

    def shift_heading(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        # On a page the module title is h1 and the page title h2: '## x' becomes h3, and so on.
        token = tokens[idx]
        token.tag = f"h{min(max(int(token.tag[1]) + 1, 3), 6)}"
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", shift_heading)
    md.add_render_rule("heading_close", shift_heading)
    return md


_MD = _markdown()


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Safe HTML for a piece of module Markdown (a page body, a worksheet intro)."""
    return sanitise_html(_MD.render(text or ""))


@lru_cache(maxsize=2048)
def render_cached(text: str) -> str:
    """``render_markdown`` remembered per text: module pages are read far more than written."""
    return render_markdown(text)
