"""The pair controller: the same items run in two trees' worker sessions, in lockstep."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_aide.measure.pair import PairPlan, Point, Tree, pair_items

QUICK = PairPlan(min_rounds=2, max_rounds=2, round_time=0.002, warmup_time=0.001, extra_rounds=0)

TESTS = """\
import asyncio
import pytest
from pair_mod import work

@pytest.fixture
def n():
    return 50

def test_closure(aide_timer, n):
    assert aide_timer(lambda: work(n)).value == sum(range(50))

def test_benchmark(benchmark, n):
    assert benchmark(work, n) == sum(range(50))

def test_pedantic(benchmark):
    made = []
    def setup():
        made.append(1)
        return (20,), {}
    assert benchmark.pedantic(work, setup=setup, rounds=1) == sum(range(20))
    assert made

@pytest.mark.asyncio
async def test_async(aide_timer):
    async def job():
        await asyncio.sleep(0)
        return work(10)
    assert (await aide_timer.async_(job)).value == 45

def test_two_calls(aide_timer):
    aide_timer(work, 10, name="small")
    aide_timer(work, 100, name="large")
"""


def _tree(root: Path, label: str, tests: str = TESTS, module: str = "") -> Tree:
    root.mkdir()
    (root / "pair_mod.py").write_text(module or "def work(n):\n    return sum(range(n))\n")
    (root / "test_pairs.py").write_text(tests)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    redirects = {"pair_mod": [str(root / "pair_mod.py")]}
    return Tree(label, root, root / "pytest.ini", redirects)


def _ids(*names: str) -> list[str]:
    return [f"test_pairs.py::{name}" for name in names]


def _run(a: Tree, b: Tree, ids: list[str]):
    return pair_items(a, b, ids, lambda tree: ["test_pairs.py"], watch=["pair_mod"], plan=QUICK)


def test_closures_fixtures_benchmark_and_async_are_paired(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a", "REV"), _tree(tmp_path / "b", "this tree")
    ids = _ids("test_closure", "test_benchmark", "test_pedantic", "test_async", "test_two_calls")
    run = _run(a, b, ids)
    assert run.missing == {}
    labels = sorted(label for _, label in run.points)
    assert labels == sorted(
        ["test_closure", "test_benchmark", "test_pedantic", "test_async", "small", "large"]
    )
    for point in run.points.values():
        assert point.problem is None, point.problem
        assert len(point.a_rounds) == 2 and point.estimate is not None
        assert point.calls >= 1
    closure = run.points[(ids[0], "test_closure")]
    assert closure.files["a"] == str(tmp_path / "a" / "test_pairs.py")
    assert closure.files["b"] == str(tmp_path / "b" / "test_pairs.py")
    benchmark = run.points[(ids[1], "test_benchmark")]
    assert benchmark.files == {
        "a": str(tmp_path / "a" / "pair_mod.py"),
        "b": str(tmp_path / "b" / "pair_mod.py"),
    }


def test_fast_calls_are_batched_like_the_in_process_timer(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a", "REV"), _tree(tmp_path / "b", "this tree")
    run = _run(a, b, _ids("test_benchmark"))
    (point,) = run.points.values()
    # A call of about a microsecond is timed over many calls per sample, never one cold call.
    assert point.calls >= 20


COLD_FIRST_CALL = """\
import time
_cold = []

def work(n):
    if not _cold:
        _cold.append(1)
        time.sleep(0.2)
    return sum(range(n))
"""


def test_a_cold_first_call_does_not_size_the_batches(tmp_path: Path) -> None:
    # The first call generates code, say, and takes longer than the whole warm-up;
    # sized on it, every batch would be one call (a cattrs test read -12 % A/A so).
    a = _tree(tmp_path / "a", "REV", module=COLD_FIRST_CALL)
    b = _tree(tmp_path / "b", "this tree", module=COLD_FIRST_CALL)
    plan = PairPlan(min_rounds=2, max_rounds=2, round_time=0.02, warmup_time=0.05)
    run = pair_items(a, b, _ids("test_benchmark"), lambda tree: ["test_pairs.py"], plan=plan)
    (point,) = run.points.values()
    assert point.problem is None, point.problem
    assert point.calls >= 20


def test_items_missing_on_one_side_are_named(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", "REV", tests=TESTS.replace("def test_closure", "def test_renamed"))
    b = _tree(tmp_path / "b", "this tree")
    run = _run(a, b, _ids("test_closure", "test_benchmark"))
    assert run.missing == {"test_pairs.py::test_closure": "not found at REV"}
    assert [label for _, label in run.points] == ["test_benchmark"]


def test_a_call_made_on_one_side_only_is_not_compared(tmp_path: Path) -> None:
    one_sided = TESTS.replace('    aide_timer(work, 100, name="large")\n', "")
    a, b = _tree(tmp_path / "a", "REV", tests=one_sided), _tree(tmp_path / "b", "this tree")
    run = _run(a, b, _ids("test_two_calls"))
    large = run.points[("test_pairs.py::test_two_calls", "large")]
    assert large.problem == "measured only in this tree: the tests differ"
    assert run.points[("test_pairs.py::test_two_calls", "small")].estimate is not None


def test_a_call_that_raises_on_one_side_says_which(tmp_path: Path) -> None:
    broken = "def work(n):\n    raise KeyError('nope')\n"
    a, b = _tree(tmp_path / "a", "REV", module=broken), _tree(tmp_path / "b", "this tree")
    run = _run(a, b, _ids("test_closure", "test_benchmark"))
    for point in run.points.values():
        assert point.problem == "raised while measured: REV: KeyError: 'nope'"


def test_a_broken_worker_session_is_one_line(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a", "REV"), _tree(tmp_path / "b", "this tree")
    (tmp_path / "a" / "conftest.py").write_text("raise RuntimeError('conftest is broken')\n")
    run = _run(a, b, _ids("test_closure"))
    message = run.missing["test_pairs.py::test_closure"]
    assert message.startswith("REV: worker pytest session exited (")
    assert "conftest is broken" in message and "\n" not in message


def test_one_file_on_both_sides_is_a_problem(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a", "REV"), _tree(tmp_path / "b", "this tree")
    # REV's worker is sent to this tree's module: what an unredirected editable install does.
    a = Tree(a.label, a.rootdir, a.inifile, b.redirects)
    b = Tree(b.label, b.rootdir, b.inifile, b.redirects, (str(tmp_path / "b"),) * 2)
    run = _run(a, b, _ids("test_benchmark"))
    (point,) = run.points.values()
    assert point.problem == (
        f"both sides imported pair_mod from {tmp_path / 'b' / 'pair_mod.py'}: the revision's "
        "worker ran this tree's code, so nothing would be compared"
    )
    assert point.estimate is None


@pytest.mark.parametrize("precise", [True, False])
def test_rounds_stop_once_every_call_is_precise(tmp_path: Path, precise: bool) -> None:
    a, b = _tree(tmp_path / "a", "REV"), _tree(tmp_path / "b", "this tree")
    plan = PairPlan(
        min_rounds=2,
        max_rounds=3,
        round_time=0.002,
        warmup_time=0.001,
        precision=10.0 if precise else 0.0,
        time_per_check=600.0,
        extra_rounds=0,
    )
    run = pair_items(a, b, _ids("test_benchmark"), lambda tree: ["test_pairs.py"], plan=plan)
    assert run.rounds == (2 if precise else 3)


def _point(ratios: list[float]) -> Point:
    point = Point("t.py::test", "test")
    point.rounds["wall"] = ([0.01] * len(ratios), [0.01 * r for r in ratios])
    return point


@pytest.mark.parametrize(
    ("ratios", "decided"),
    [
        ([1.02, 0.97, 1.05, 0.99, 1.08], True),  # wholly below 1 + tolerance: cleared
        ([1.31, 1.25, 1.4, 1.22, 1.35], True),  # wholly beyond it: confirmed
        ([1.02, 1.31, 1.05, 0.99, 1.25], False),  # across it: measured on
        ([1.02, 0.97, 1.05, 0.99], False),  # too few rounds to decide
    ],
)
def test_a_confirming_pair_stops_once_decided(ratios: list[float], decided: bool) -> None:
    early = PairPlan(tolerance=0.15, decide_at=5)
    assert _point(ratios).precise(early) is decided
    # Without decide_at a call is measured to min_rounds and its precision.
    assert not _point(ratios).precise(PairPlan(tolerance=0.15))


FLIPPING = """\
import pathlib

_seen = pathlib.Path(__file__).with_name("imports")
_count = int(_seen.read_text()) + 1 if _seen.exists() else 1
_seen.write_text(str(_count))
REPS = 12 if _count % 2 else 1  # 6x slower than REV's 2 in odd rounds, 2x faster in even ones

def work(n):
    return sum(sum(range(n)) for _ in range(REPS))
"""


@pytest.mark.parametrize("extra", [0, 2])
def test_an_undecided_call_gets_more_rounds(tmp_path: Path, extra: int) -> None:
    # Rounds reading 6x and 0.5x: the estimate is far beyond the tolerance, but the
    # interval of two rounds still holds no change; extra rounds are spent on it.
    module = "def work(n):\n    return sum(sum(range(n)) for _ in range(2))\n"
    a = _tree(tmp_path / "a", "REV", module=module)
    b = _tree(tmp_path / "b", "this tree", module=FLIPPING)
    plan = PairPlan(
        min_rounds=2,
        max_rounds=2,
        round_time=0.002,
        warmup_time=0.001,
        precision=0.0,
        time_per_check=600.0,
        extra_rounds=extra,
    )
    run = pair_items(a, b, _ids("test_benchmark"), lambda tree: ["test_pairs.py"], plan=plan)
    assert run.rounds == 2 + extra
    (point,) = run.points.values()
    assert point.estimate is not None and point.estimate.ratio > 1.05
    if extra == 0:
        assert point.undecided(plan)
