"""Cleaning text people type before it is stored.

PostgreSQL refuses NUL bytes and invisible control characters help nobody, so they are
removed (newlines and tabs are kept; Windows line endings become ``\n``).
"""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029\ufeff]")


def clean_user_text(value: object, max_length: int | None = None, *, multiline: bool = True) -> str:
    """``value`` as a string without control characters, trimmed and cut to ``max_length``."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    text = text.strip()
    if max_length is not None:
        text = text[:max_length]
    return text
