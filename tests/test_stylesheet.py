"""The stylesheet parses as the blocks we think it has (merges once left a @media unclosed,
which put every later rule inside a wide-screen-only block)."""
from __future__ import annotations

import re
from pathlib import Path

import icbt

CSS = Path(icbt.__file__).parent / "static" / "css" / "app.css"


def _depths(text: str) -> list[int]:
    depth, out = 0, []
    for ch in re.sub(r"/\*.*?\*/", "", text, flags=re.S):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        out.append(depth)
    return out


def test_braces_balance() -> None:
    depths = _depths(CSS.read_text(encoding="utf-8"))
    assert min(depths) >= 0 and depths[-1] == 0


def test_no_at_rule_nests_another_rule_block_by_accident() -> None:
    # Inside @media only plain rules (depth 2) may appear: a depth of 3 means a block opened
    # inside a rule, i.e. an at-rule or a rule was left unclosed above it.
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    assert max(_depths(text)) <= 2
