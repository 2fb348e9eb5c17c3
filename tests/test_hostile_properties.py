"""Generated hostile input through real pytest sessions: the principle holds for each case.

Hypothesis writes structurally valid scenario files, markers and baseline files
holding hostile values (huge, tiny, NaN, infinite, negative, wrong types, long
and unicode names). Every session must end with pytest's own exit codes, show
no INTERNALERROR and no frame of pytest-aide, keep the good check passing, and
leave every file that existed before as it was. The example counts are kept
small so the suite stays fast; ``AIDE_HOSTILE_EXAMPLES`` raises them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_aide.baselines import Baseline, baseline_relpath
from pytest_aide.measure.system import machine_info, machine_slug
from pytest_aide.results import TimingResult
from pytest_aide.scenarios import SCENARIO_KEYS
from pytest_aide.verdict import THRESHOLD_KEYS

EXAMPLES = int(os.environ.get("AIDE_HOSTILE_EXAMPLES", "6"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INTERNALS = f"{os.sep}pytest_aide{os.sep}"
GOOD_ID = "test_good.py::test_good"
GEN_ID = "scenarios/gen.toml::gen"

NUMBERS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, -1, 10**400, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-300, 5e-324, 1e308, -0.0]),
)
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["10%", "-5ms", "1e999s", "nan", "∞", "2s", "x" * 300, "ünïcødé"]),
)
SCALARS = st.one_of(NUMBERS, TEXT, st.booleans())
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(
        st.sampled_from(["a", "concurrency", "mean", "max_attempts"]), SCALARS, max_size=2
    ),
)
LOAD_KEYS = ("concurrency", "requests", "duration", "rate", "timeout", "mode", "users")
RETRY_KEYS = ("max_attempts", "base_delay", "max_delay", "jitter", "tries")


def _toml(value: Any) -> str:
    """``value`` as a TOML value (integers beyond 64 bits are written anyway: invalid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _python(value: Any) -> str:
    """``value`` as a Python expression."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, list):
        return "[" + ", ".join(_python(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_python(v)}" for k, v in value.items()) + "}"
    return repr(value)


SCENARIO_ENTRIES = st.one_of(
    st.tuples(st.sampled_from([*SCENARIO_KEYS[1:], "treshold", "iters"]), VALUES),
    st.tuples(
        st.just("thresholds"),
        st.dictionaries(st.sampled_from([*THRESHOLD_KEYS, "p96"]), SCALARS, min_size=1, max_size=2),
    ),
    st.tuples(
        st.just("load"),
        st.dictionaries(st.sampled_from(LOAD_KEYS), SCALARS, min_size=1, max_size=3),
    ),
    st.tuples(
        st.just("retry"),
        st.dictionaries(st.sampled_from(RETRY_KEYS), SCALARS, min_size=1, max_size=2),
    ),
)
MARKER_ENTRIES = st.dictionaries(
    st.sampled_from([*THRESHOLD_KEYS, "name", "timeout", "measure", "retry", "p96"]),
    VALUES,
    min_size=1,
    max_size=2,
)


def _reset(root: Path) -> None:
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / "mod.py").write_text("def work(*args, **kwargs):\n    return sum(range(100))\n")
    (root / "test_good.py").write_text(
        "def test_good(aide_timer):\n    aide_timer(lambda: None, iterations=3, warmup=0)\n"
    )
    (root / "scenarios").mkdir()


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".aide", "__pycache__", ".pytest_cache"} & set(p.parts)
    }


def _holds(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run a session and check the principle; return the result for more checks."""
    before = _files(pytester.path)
    result = pytester.runpytest("--aide-perf", "-v", "-p", "no:randomly", *args)
    shown = "\n".join(result.outlines + result.errlines)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), shown
    assert "INTERNALERROR" not in shown and "Traceback" not in shown, shown
    assert INTERNALS not in shown, shown
    assert f"{GOOD_ID} PASSED" in shown, shown
    after = _files(pytester.path)
    for path, data in before.items():
        assert after.get(path) == data, f"{path} was changed"
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    json.loads(json.dumps(report), parse_constant=_no_constants)  # strict JSON only
    return result


def _no_constants(name: str) -> None:
    raise AssertionError(f"report.json holds {name}")


@SETTINGS
@given(entries=st.lists(SCENARIO_ENTRIES, min_size=1, max_size=3))
def test_generated_scenario_files(pytester: pytest.Pytester, entries: list) -> None:
    _reset(pytester.path)
    body = "".join(f"{key} = {_toml(value)}\n" for key, value in dict(entries).items())
    (pytester.path / "scenarios" / "gen.toml").write_text(
        f'[scenarios.gen]\ntarget = "mod:work"\n{body}', encoding="utf-8"
    )
    _holds(pytester, "--aide-timeout", "60s")


@SETTINGS
@given(marker=MARKER_ENTRIES)
def test_generated_markers(pytester: pytest.Pytester, marker: dict) -> None:
    _reset(pytester.path)
    keywords = ", ".join(f"{key}={_python(value)}" for key, value in marker.items())
    (pytester.path / "test_gen.py").write_text(
        "import pytest\n\n"
        f"@pytest.mark.aide({keywords})\n"
        "def test_gen(aide_timer):\n    aide_timer(lambda: None, iterations=3, warmup=0)\n",
        encoding="utf-8",
    )
    _holds(pytester, "--aide-timeout", "60s")


BASELINE_FIELDS = st.sampled_from(
    [
        ("schema",),
        ("id",),
        ("created",),
        ("machine",),
        ("results",),
        ("runs",),
        ("commit",),
        ("dirty",),
        ("results", 0),
        ("results", 0, "samples"),
        ("results", 0, "samples", 0),
        ("results", 0, "name"),
        ("results", 0, "kind"),
        ("results", 0, "calls_per_sample"),
        ("runs", 0, "medians", "gen"),
    ]
)


@SETTINGS
@given(field=BASELINE_FIELDS, value=VALUES)
def test_generated_baselines(pytester: pytest.Pytester, field: tuple, value: Any) -> None:
    _reset(pytester.path)
    (pytester.path / "scenarios" / "gen.toml").write_text(
        '[scenarios.gen]\ntarget = "mod:work"\niterations = 3\nwarmup = 0\n'
    )
    data = Baseline(GEN_ID, [TimingResult("gen", [1e-6] * 5)], {}).to_dict()
    data["runs"] = [{"created": "2026-11-26T00:00:00", "medians": {"gen": 1e-6}}]
    place = data
    for key in field[:-1]:
        place = place[key]
    place[field[-1]] = value
    path = pytester.path / "baselines" / machine_slug(machine_info()) / baseline_relpath(GEN_ID)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    _holds(pytester)
