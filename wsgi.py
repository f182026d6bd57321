"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""
import sys
from pathlib import Path

# The package lives in platform/ (a source folder, not a package: the standard library's
# ``platform`` module must stay importable). Put it first so this checkout's code is used.
_SOURCE = str(Path(__file__).resolve().parent / "platform")
if _SOURCE not in sys.path:
    sys.path.insert(0, _SOURCE)

from config import load_config  # noqa: E402
from icbt import create_app  # noqa: E402

app = create_app(load_config())
