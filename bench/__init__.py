"""Benchmarks that print figures (``make bench`` / ``python -m bench``); see bench/README.md."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "platform")):  # this checkout's code first, as wsgi.py does
    if _path not in sys.path:
        sys.path.insert(0, _path)
