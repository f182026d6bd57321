"""Which passwords are accepted: long enough, not too long, and not a common password.

No composition rules (NIST SP 800-63B, OWASP ASVS): length counts, and the password is
checked against a list of common passwords shipped in ``icbt/data/`` (see its README for
the sources). The check normalises first, so that case, spaces, separators, look-alike
digits ("p@ssw0rd") or a few digits and signs added at either end ("password1234!") do
not turn a listed password into an accepted one. Words from the account itself (its
e-mail address, its name) are refused the same way.
"""
from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from importlib import resources
from typing import Iterable

from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 128

_WHITESPACE = re.compile(r"\s+", re.UNICODE)
_SEPARATORS = re.compile(r"[\s\-_.,;:+/\\|~'\"`*#]+")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$", re.UNICODE)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
_LEET_L = str.maketrans({"1": "l"})

CONTEXT_WORDS = ("icbt", "icbtplatform", "platform", "therapy", "anxiety")


def normalise(password: str) -> str:
    """NFKC, case-folded, without white space: the form list entries are stored in."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", password).casefold())


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("icbt").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split("\n")) - {""}


def _repeated_unit(text: str) -> str | None:
    """``abc`` for ``abcabcabc``; None when the text is not a repetition."""
    n = len(text)
    for size in range(1, n // 2 + 1):
        if n % size == 0 and text[:size] * (n // size) == text:
            return text[:size]
    return None


def _is_run(text: str) -> bool:
    """Consecutive characters up or down (``abcdefghijkl``, ``098765432109``)."""
    if len(text) < 4:
        return False
    steps = {(ord(b) - ord(a)) for a, b in zip(text, text[1:])}
    if steps <= {1} or steps <= {-1}:
        return True
    if text.isdigit():  # digits may wrap: 8901234567
        steps = {(int(b) - int(a)) % 10 for a, b in zip(text, text[1:])}
        return steps == {1} or steps == {9}
    return False


def variants(password: str) -> set[str]:
    """The forms of ``password`` compared with the list."""
    base = normalise(password)
    forms = {base, _SEPARATORS.sub("", base)}
    forms |= {f.translate(_LEET) for f in list(forms)} | {f.translate(_LEET_L) for f in list(forms)}
    forms |= {_EDGES.sub("", f) for f in list(forms)}
    forms |= {_SEPARATORS.sub("", f) for f in list(forms)}
    for form in list(forms):
        unit = _repeated_unit(form)
        if unit:
            forms.add(unit)
    return {f for f in forms if f}


def _context(words: Iterable[str | None]) -> set[str]:
    found: set[str] = set(CONTEXT_WORDS)
    for word in words:
        if not word:
            continue
        text = normalise(word)
        pieces = {text, text.split("@", 1)[0]}
        for piece in pieces:
            found.add(piece)
            found.add(_SEPARATORS.sub("", piece))
    return {w for w in found if len(w) >= 3}


MESSAGES = {
    "too_short": _l("Use at least %(n)d characters.", n=MIN_LENGTH),
    "too_long": _l("Use at most %(n)d characters.", n=MAX_LENGTH),
    "common": _l("This password is too common or too easy to guess. "
                 "A phrase of several unrelated words is long and easy to remember."),
}


def weakness(password: str, *, context: Iterable[str | None] = ()) -> str | None:
    """Why ``password`` is refused ("too_short", "too_long", "common"; ``MESSAGES`` has the
    words for the user), or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    forms = variants(password)
    listed = common_passwords()
    base = _SEPARATORS.sub("", normalise(password))
    unit = _repeated_unit(base)
    if (
        forms & listed
        or forms & _context(context)
        or (unit is not None and len(unit) <= 3)
        or _is_run(base)
    ):
        return "common"
    return None
