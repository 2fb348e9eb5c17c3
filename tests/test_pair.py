"""Worker processes of the interleaved measurement: errors are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_aide.measure.pair import PairPlan, Side, WorkerError, measure_pair

QUICK = PairPlan(min_rounds=2, max_rounds=2, round_time=0.001, warmup_time=0.001)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "aide_pair_mod.py").write_text(
        "import asyncio\n"
        "def fine(n=10):\n    return sum(range(n))\n"
        "async def afine():\n    await asyncio.sleep(0)\n"
        "def boom():\n    raise KeyError('nope')\n"
        "print('noise on stdout does not break the protocol')\n"
    )
    return tmp_path


def test_measures_both_sides_in_rounds(root: Path) -> None:
    result = measure_pair(
        Side("A", root, "aide_pair_mod:fine"), Side("B", root, "aide_pair_mod:afine"), QUICK
    )
    assert result.estimate.n_old == 2 and len(result.a_rounds) == 2
    assert len(result.a.samples) == len(result.b.samples) >= 6
    assert result.a.calls_per_sample == result.b.calls_per_sample


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "aide_pair_mod:missing",
            "B: cannot import 'aide_pair_mod:missing' from *: AttributeError",
        ),
        ("no_such_mod:fn", "B: cannot import 'no_such_mod:fn' from *: ModuleNotFoundError"),
        ("aide_pair_mod:boom", "B: 'aide_pair_mod:boom' raised KeyError: 'nope'"),
    ],
)
def test_worker_errors_are_one_line(root: Path, target: str, message: str) -> None:
    with pytest.raises(WorkerError) as excinfo:
        measure_pair(Side("A", root, "aide_pair_mod:fine"), Side("B", root, target), QUICK)
    from fnmatch import fnmatch

    assert fnmatch(str(excinfo.value), message + "*"), str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_arguments_must_be_json(root: Path) -> None:
    with pytest.raises(WorkerError, match="arguments must be JSON values"):
        measure_pair(
            Side("A", root, "aide_pair_mod:fine", (object(),)),
            Side("B", root, "aide_pair_mod:fine"),
            QUICK,
        )
