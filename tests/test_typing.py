"""pytest-aide ships its type hints: ``py.typed`` is in the wheel; a user's mypy --strict passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_py_typed(tmp_path: Path) -> None:
    source = tmp_path / "src"  # built from a copy: the checkout gains no build/ directory
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("pytest_aide-*.whl")
    assert "pytest_aide/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_a_users_tests_pass_mypy_strict(tmp_path: Path) -> None:
    user = tmp_path / "test_user.py"
    user.write_text((ROOT / "tests" / "data" / "typed_user_tests.py").read_text())
    # As for an installed package: the package is read for its types, its own
    # findings are not the user's (mypy is silent on site-packages the same way).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            str(user),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found in 1 source file" in done.stdout
