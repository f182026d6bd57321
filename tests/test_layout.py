"""The source layout keeps the standard library's ``platform`` module importable everywhere."""
from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_is_the_standard_library_in_tests() -> None:
    assert callable(platform.python_version)
    assert Path(platform.__file__).parent != ROOT / "platform"


def test_platform_folder_is_not_a_package() -> None:
    assert (ROOT / "platform" / "icbt" / "__init__.py").exists()
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_platform_is_the_standard_library_for_the_app_and_alembic() -> None:
    code = (
        "import wsgi, platform, sqlalchemy, alembic.config; "
        "import migrations  # the folder beside wsgi.py must not shadow anything either\n"
        "print(platform.python_implementation(), platform.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"ICBT_CONFIG": "test", "PATH": "/usr/bin:/bin", "ICBT_INSTANCE": str(ROOT / "instance" / "layout-test")},
    )
    assert result.returncode == 0, result.stderr
    implementation, path = result.stdout.split()
    assert implementation == "CPython"
    assert not path.startswith(str(ROOT / "platform"))
