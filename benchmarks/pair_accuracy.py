"""Same-job accuracy on fast functions: a planted +10 % on calls of ~1 µs and ~5 µs.

    python benchmarks/pair_accuracy.py [--runs 5]

Two trees hold the same ``benchmark`` tests of real standard-library work
(``urllib.parse.quote`` of a short path, ~1 µs; ``json.dumps`` of a small
record, ~5 µs). In the second tree each call also does extra work sized to
cost 10 % of the call. The true ratio is measured in one process, both
versions interleaved for 3 s each; then ``pair_items`` (what ``--aide-against``
runs) estimates it ``--runs`` times. Prints each estimate's error in points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pytest_aide.measure.pair import Tree, pair_items

WORK = """\
import json
import urllib.parse

RECORD = {{"id": 1234, "name": "pytest-aide", "tags": ["perf", "gate", "ci"], "ok": True,
          "scores": [0.5, 1.25, 3.0, 7.75], "owner": {{"name": "x", "id": 9}}}}

def _pad(n):
    total = 0
    for i in range(n):
        total += i
    return total

def quote():
    _pad({quote_pad})
    return urllib.parse.quote("/some path/with spaces/and-üñíçødé")

def dumps():
    _pad({dumps_pad})
    return json.dumps(RECORD)
"""
TESTS = """\
from acc_work import dumps, quote

def test_quote(benchmark):
    benchmark(quote)

def test_dumps(benchmark):
    benchmark(dumps)
"""


def _per_call(fn, seconds: float) -> float:
    calls = 1000
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - t0
    return elapsed / calls


def _load(source: str, name: str) -> dict:
    namespace: dict = {"__name__": name}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def _size_pads() -> tuple[int, int, dict]:
    """Pad lengths that add 10 % to each call, and the plain version for the reference."""
    plain = _load(WORK.format(quote_pad=0, dumps_pad=0), "plain")
    per_step = _per_call(lambda: plain["_pad"](1000), 0.5) / 1000
    quote_pad = max(1, round(0.10 * _per_call(plain["quote"], 0.5) / per_step))
    dumps_pad = max(1, round(0.10 * _per_call(plain["dumps"], 0.5) / per_step))
    return quote_pad, dumps_pad, plain


def _true_ratio(base, slow, seconds: float = 3.0) -> float:
    """Median over interleaved batches, in one process: the reference."""
    ratios = []
    end = time.perf_counter() + 2 * seconds
    while time.perf_counter() < end:
        a = _per_call_fixed(base)
        b = _per_call_fixed(slow)
        ratios.append(b / a)
    return statistics.median(ratios)


def _per_call_fixed(fn, calls: int = 2000) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def main() -> None:
    """Measure the reference, then estimate it ``--runs`` times with pair_items."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    quote_pad, dumps_pad, plain = _size_pads()
    slow_source = WORK.format(quote_pad=quote_pad, dumps_pad=dumps_pad)
    slow = _load(slow_source, "slow")
    truth = {
        "test_quote": _true_ratio(plain["quote"], slow["quote"]),
        "test_dumps": _true_ratio(plain["dumps"], slow["dumps"]),
    }
    costs = {
        "test_quote": _per_call(plain["quote"], 0.5),
        "test_dumps": _per_call(plain["dumps"], 0.5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        trees = []
        for label, source in (
            ("base", WORK.format(quote_pad=0, dumps_pad=0)),
            ("slow", slow_source),
        ):
            root = Path(tmp) / label
            root.mkdir()
            (root / "acc_work.py").write_text(source)
            (root / "test_acc.py").write_text(TESTS)
            (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
            trees.append(
                Tree(label, root, root / "pytest.ini", {"acc_work": [str(root / "acc_work.py")]})
            )
        ids = ["test_acc.py::test_quote", "test_acc.py::test_dumps"]
        estimates: dict[str, list[float]] = {name: [] for name in truth}
        seconds = []
        for _ in range(options.runs):
            run = pair_items(trees[0], trees[1], ids, lambda tree: ["test_acc.py"])
            seconds.append(run.elapsed)
            for (nodeid, _), point in run.points.items():
                estimate = point.estimate
                if estimate is not None:
                    estimates[nodeid.split("::")[1]].append(estimate.ratio)
    print(
        f"python {sys.version.split()[0]}; {options.runs} same-job runs; "
        f"{statistics.median(seconds):.1f} s per run (2 checks)"
    )
    print(f"{'check':12} {'per call':>9} {'true':>7} {'estimates (points off the true change)'}")
    for name in truth:
        true = (truth[name] - 1) * 100
        errors = [(e - 1) * 100 - true for e in estimates[name]]
        shown = " ".join(f"{e:+.1f}" for e in errors)
        worst = max((abs(e) for e in errors), default=float("nan"))
        print(f"{name:12} {costs[name] * 1e6:7.2f}us {true:+6.1f}%  {shown}  (worst {worst:.1f})")


if __name__ == "__main__":
    main()
