"""``--aide-against`` imports REV's code in REV's workers, whatever the project's layout.

Each case is a real project installed with pip into its own virtual
environment (sharing this one's packages), then changed in the working tree
so that its code is 6x slower: far outside any noise, so nothing here depends
on the machine's speed. A worker that ran this tree's code on both sides would
read "unchanged".
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

AGAINST_HEAD = ("--aide-against", "HEAD", "--aide-against-rounds", "3", "--aide-explain", "never")
"""Three rounds of fresh workers tell a 6x slowdown from none; no profile is asked of it."""
CORE = "def work():\n    return sum(i * i for i in range(3000))\n"
SLOW = CORE.replace("3000", "18000")
TEST = (
    "from {module} import work\n\n"
    "def test_work(benchmark):\n    assert benchmark(work) > 0\n\n"
    "def test_timed(aide_timer):\n    aide_timer(lambda: work())\n"
)
SETUPTOOLS = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[tool.setuptools]
"""
HATCHLING = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
"""
PDM = """\
[build-system]
requires = ["pdm-backend"]
build-backend = "pdm.backend"

[tool.pdm.build]
"""
PYPROJECT = """\
[project]
name = "{name}"
version = "0.1"

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.aide.checks."tests/*"]
"""


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIDE_"))}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def _venv(where: Path) -> Path:
    """A fresh environment that sees this one's packages (pytest, pytest-aide, setuptools)."""
    base = getattr(sys, "_base_executable", sys.executable)
    done = _run(base, "-m", "venv", "--without-pip", where / "venv", cwd=where)
    assert done.returncode == 0, done.stderr
    python = where / "venv" / "bin" / "python"
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = _run(python, "-c", query, cwd=where)
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
    (Path(purelib.stdout.strip()) / "_parent_env.pth").write_text(lines)
    return python


def _git(cwd: Path, *args: str) -> None:
    who = ["-c", "user.email=a@b", "-c", "user.name=a"]
    done = _run("git", *who, *args, cwd=cwd)
    assert done.returncode == 0, done.stderr


def _project(
    root: Path, name: str, files: dict[str, str], packages: str, install: list[str]
) -> tuple[Path, Path]:
    """Write, commit and pip-install a project; returns (its checkout, its python)."""
    project = root / name
    for relative, text in {
        **files,
        "pyproject.toml": packages + "\n" + PYPROJECT.format(name=name),
    }.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "base")
    python = _venv(root)
    done = _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-build-isolation",
        "--no-deps",
        "--no-index",
        *install,
        project,
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project, python


LAYOUTS = {
    "src layout, setuptools editable (.pth)": (
        {"src/lay_src/__init__.py": "from .core import work\n", "src/lay_src/core.py": CORE},
        "lay_src",
        SETUPTOOLS + 'package-dir = {"" = "src"}\npackages = ["lay_src"]',
        ["-e"],
        "src/lay_src/core.py",
    ),
    "src layout, setuptools strict editable (import-hook finder)": (
        {"src/lay_strict/__init__.py": "from .core import work\n", "src/lay_strict/core.py": CORE},
        "lay_strict",
        SETUPTOOLS + 'package-dir = {"" = "src"}\npackages = ["lay_strict"]',
        ["--config-settings", "editable_mode=strict", "-e"],
        "src/lay_strict/core.py",
    ),
    "src layout, hatchling editable (.pth)": (
        {"src/lay_hatch/__init__.py": "from .core import work\n", "src/lay_hatch/core.py": CORE},
        "lay_hatch",
        HATCHLING + 'packages = ["src/lay_hatch"]',
        ["-e"],
        "src/lay_hatch/core.py",
    ),
    "src layout, hatchling dev-mode-exact (editables import hook)": (
        {"src/lay_exact/__init__.py": "from .core import work\n", "src/lay_exact/core.py": CORE},
        "lay_exact",
        HATCHLING + 'packages = ["src/lay_exact"]\ndev-mode-exact = true',
        ["-e"],
        "src/lay_exact/core.py",
    ),
    "src layout, pdm-backend editable (.pth)": (
        {"src/lay_pdm/__init__.py": "from .core import work\n", "src/lay_pdm/core.py": CORE},
        "lay_pdm",
        PDM + 'package-dir = "src"',
        ["-e"],
        "src/lay_pdm/core.py",
    ),
    "src layout, pdm-backend editables (import hook)": (
        {"src/lay_pdme/__init__.py": "from .core import work\n", "src/lay_pdme/core.py": CORE},
        "lay_pdme",
        PDM + 'package-dir = "src"\neditable-backend = "editables"',
        ["-e"],
        "src/lay_pdme/core.py",
    ),
    "namespace package, src layout, editable": (
        {"src/lay_ns/part/__init__.py": CORE},
        "lay_ns.part",
        SETUPTOOLS + 'package-dir = {"" = "src"}\npackages = ["lay_ns.part"]',
        ["-e"],
        "src/lay_ns/part/__init__.py",
    ),
    "flat layout, installed without -e": (
        {"lay_flat/__init__.py": "from .core import work\n", "lay_flat/core.py": CORE},
        "lay_flat",
        SETUPTOOLS + 'packages = ["lay_flat"]',
        [],
        "lay_flat/core.py",
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_side_runs_its_own_code(tmp_path: Path, layout: str) -> None:
    files, module, packages, install, slowed = LAYOUTS[layout]
    files = {**files, "tests/test_perf.py": TEST.format(module=module)}
    project, python = _project(tmp_path, module.split(".")[0], files, packages, install)
    (project / slowed).write_text((project / slowed).read_text().replace(CORE, SLOW))
    done = _run(python, "-m", "pytest", "--aide-perf", *AGAINST_HEAD, cwd=project)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    for test in ("test_work", "test_timed"):
        assert f"{test}: regressed +" in out, out
    assert "both sides imported" not in out, out


def test_a_run_where_both_sides_import_one_file_fails_loudly(tmp_path: Path) -> None:
    # The package lives in lib/ and is installed without -e: neither checkout's code is
    # what both workers import, and nothing redirects it. This must not read "unchanged".
    files = {
        "lib/lay_lib/__init__.py": "from .core import work\n",
        "lib/lay_lib/core.py": CORE,
        "tests/test_perf.py": TEST.format(module="lay_lib"),
    }
    packages = SETUPTOOLS + 'package-dir = {"" = "lib"}\npackages = ["lay_lib"]'
    project, python = _project(tmp_path, "lay_lib", files, packages, [])
    slowed = project / "lib/lay_lib/core.py"
    slowed.write_text(SLOW)
    done = _run(python, "-m", "pytest", "--aide-perf", *AGAINST_HEAD, cwd=project)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert (
        "test_work: --aide-against: both sides imported lay_lib.core from "
        f"{tmp_path / 'venv'}" in out
    ), out
    assert "outside both checkouts (installed without -e?)" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out
