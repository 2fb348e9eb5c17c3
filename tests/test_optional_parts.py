"""Every optional part that is missing is one line naming what to install.

Each case runs a real pytest session in a venv that has pytest-aide and its
required dependencies only: no pytest-codspeed, pytest-benchmark,
pytest-asyncio, uvloop, SQLAlchemy or uvicorn. Parts found on ``PATH``
(valgrind, git, a browser) are taken away by the ``PATH`` it runs with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("pytest_codspeed", "pytest_benchmark", "pytest_asyncio", "uvloop", "sqlalchemy")
OPTIONAL += ("uvicorn", "locust")


@pytest.fixture(scope="session")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pytest-aide (this tree, editable) and its required dependencies alone."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # --no-compile: a session compiles what it imports, not all of plotly's modules.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-compile", "-e", str(ROOT)],
        check=True,
        capture_output=True,
    )
    found = subprocess.run(
        [
            str(python),
            "-c",
            f"import importlib.util as u; print([m for m in {OPTIONAL!r} if u.find_spec(m)])",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "[]", found.stdout  # the venv really lacks them
    return python


def _run(
    bare: Path, project: Path, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIDE_"))}
    env["PATH"] = path if path is not None else f"{bare.parent}:{os.environ['PATH']}"
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(bare), "-m", "pytest", "-p", "no:cacheprovider", "-o", "pythonpath=.", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


TIMED = "def work():\n    return sum(range(100))\n\ndef test_t(aide_timer):\n    aide_timer(work)\n"


def _clean(done: subprocess.CompletedProcess[str]) -> str:
    out = done.stdout + done.stderr
    assert "INTERNALERROR" not in out and "Traceback" not in out, out
    return out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--aide-measure", "instructions"),
            "ERROR: --aide-measure instructions: counting needs pytest-codspeed's compiled "
            "hooks: pip install 'pytest-aide[instructions]'",
        ),
        (
            ("--aide-loop", "uvloop"),
            "ERROR: --aide-loop uvloop: uvloop is not installed (No module named 'uvloop'); "
            "install it with: pip install 'pytest-aide[uvloop]'",
        ),
        (
            ("--aide-benchmark-json", "bench.json"),
            "ERROR: --aide-benchmark-json writes pytest-benchmark's format with its "
            "statistics: install pytest-benchmark (pip install 'pytest-aide[benchmark]')",
        ),
    ],
)
def test_a_missing_package_an_option_needs_is_a_usage_error(
    bare: Path, tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    (tmp_path / "test_t.py").write_text(TIMED)
    done = _run(bare, tmp_path, "--aide-perf", *args)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert line in _clean(done).splitlines()
    assert not (tmp_path / ".aide").exists()  # refused before anything was measured


def test_valgrind_missing_is_a_usage_error(bare: Path, tmp_path: Path) -> None:
    (tmp_path / "test_t.py").write_text(TIMED)
    done = _run(bare, tmp_path, "--aide-perf", "--aide-measure=instructions", path=str(bare.parent))
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "valgrind not found (valgrind): install it (apt-get install valgrind)" in _clean(done)


def test_the_benchmark_fixture_without_a_plugin_to_provide_it_is_named(
    bare: Path, tmp_path: Path
) -> None:
    (tmp_path / "test_b.py").write_text("def test_b(benchmark):\n    benchmark(sum, [1, 2])\n")
    out = _clean(_run(bare, tmp_path, "--aide-perf"))
    assert (
        "warning: 1 test(s) use the benchmark fixture, which neither pytest-benchmark nor "
        "pytest-codspeed is installed to provide: pip install 'pytest-aide[benchmark]'"
    ) in out


def test_an_asgi_server_without_uvicorn_is_one_line(bare: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "async def asgi(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "web.toml").write_text(
        '[scenarios.web]\nserver = "app:asgi"\nhttp = { url = "/" }\n'
        "load = { concurrency = 2, requests = 10 }\n"
    )
    done = _run(bare, tmp_path, "--aide-perf", "scenarios")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert (
        "scenarios/web.toml: scenario 'web': server 'app:asgi': an ASGI application is served "
        "by uvicorn, which is not installed (pip install uvicorn)"
    ) in _clean(done).splitlines()


def test_a_locust_load_without_locust_is_one_line(bare: Path, tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "web.toml").write_text(
        '[scenarios.web]\nhttp = { url = "http://127.0.0.1:9/" }\n'
        'load = { engine = "locust", workers = 2, concurrency = 2, requests = 10 }\n'
    )
    done = _run(bare, tmp_path, "--aide-perf", "scenarios")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert (
        "scenarios/web.toml: scenario 'web': load engine 'locust' needs Locust: "
        "pip install 'pytest-aide[locust]'"
    ) in _clean(done).splitlines()


def test_an_async_test_without_pytest_asyncio_says_what_to_install(
    bare: Path, tmp_path: Path
) -> None:
    (tmp_path / "test_a.py").write_text(
        "import asyncio\n\nasync def test_a(aide_timer):\n"
        "    await aide_timer.async_(asyncio.sleep, 0)\n\n" + TIMED
    )
    done = _run(bare, tmp_path, "--aide-perf")
    out = done.stdout
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "async def functions are not natively supported" in out and "pytest-asyncio" in out
    assert "1 failed, 1 passed" in out  # the other check still ran


def test_a_database_module_without_sqlalchemy_is_one_line(bare: Path, tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(
        "import sqlalchemy\n\nengine = sqlalchemy.create_engine('sqlite://')\n"
    )
    (tmp_path / "test_d.py").write_text(
        "import pytest\n\n@pytest.mark.aide(databases='db:engine')\n"
        "def test_d(aide_timer):\n    aide_timer(sum, [1])\n\n" + TIMED
    )
    done = _run(bare, tmp_path, "--aide-perf")
    assert (
        "test_d.py::test_d: @pytest.mark.aide: databases: cannot import 'db': "
        "ModuleNotFoundError: No module named 'sqlalchemy'"
    ) in done.stdout.splitlines()
    assert "1 passed, 1 error" in done.stdout


def test_reports_need_no_browser_and_git_is_named_where_needed(bare: Path, tmp_path: Path) -> None:
    (tmp_path / "test_t.py").write_text(TIMED)
    only_python = str(bare.parent)  # no git, no chromium, no valgrind
    assert shutil.which("git", path=only_python) is None
    done = _run(bare, tmp_path, "--aide-perf", path=only_python)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert (tmp_path / ".aide" / "report.html").stat().st_size > 0
    against = _run(bare, tmp_path, "--aide-perf", "--aide-against", "HEAD", path=only_python)
    assert against.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --aide-against HEAD: git is not installed" in _clean(against)
    bisect = subprocess.run(
        [
            str(bare.parent / "pytest-aide"),
            "bisect",
            "HEAD~1",
            "HEAD",
            "--check",
            "test_t.py::test_t",
        ],
        cwd=tmp_path,
        env={**os.environ, "PATH": only_python},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bisect.returncode == 2
    assert bisect.stderr.strip() == "pytest-aide bisect: git is not installed"
