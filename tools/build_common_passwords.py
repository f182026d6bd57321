"""Rebuild platform/icbt/data/common-passwords.txt.gz from the two published lists it merges.

Sources (both fetched with pip from PyPI, nothing else):
  zxcvbn 4.5.0 (MIT, Daniel Wolf's Python port of Dropbox's zxcvbn): the "passwords"
      frequency list, the 30,000 most common passwords of Mark Burnett's 10-million-password
      data set, which he released into the public domain (2015).
  Django 5.2.19 (BSD-3-Clause): django/contrib/auth/common-passwords.txt.gz, 20,000 common
      passwords compiled by Royce Williams.

    pip download --no-deps zxcvbn==4.5.0 django==5.2.19 -d /tmp/pw
    python tools/build_common_passwords.py /tmp/pw

Entries are normalised exactly as icbt.users.password_policy normalises a candidate
(NFKC, case-folded, white space removed), de-duplicated and sorted.
"""
from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "platform"))

from icbt.users.password_policy import normalise  # noqa: E402

OUT = ROOT / "platform" / "icbt" / "data" / "common-passwords.txt.gz"


def _zxcvbn(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        source = z.read("zxcvbn/frequency_lists.py").decode("utf-8")
    namespace: dict = {}
    exec(compile(source, "frequency_lists.py", "exec"), namespace)  # a data literal
    return list(namespace["FREQUENCY_LISTS"]["passwords"])


def _django(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("django/contrib/auth/common-passwords.txt.gz")
    return gzip.decompress(raw).decode("utf-8").split()


def main(folder: str) -> None:
    root = Path(folder)
    words = _zxcvbn(next(root.glob("zxcvbn-4.5.0-*.whl"))) + _django(next(root.glob("django-5.2.19-*.whl")))
    entries = sorted({normalise(w) for w in words} - {""})
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(("\n".join(entries) + "\n").encode("utf-8"))
    OUT.write_bytes(buffer.getvalue())
    print(f"{len(entries)} entries -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pw")
