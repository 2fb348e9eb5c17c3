"""How often the regression gate cries wolf, and how often it catches a real slowdown.

Runs many A/A checks (the same workload on both sides) and A/B checks (B does
5 %, 10 % or 20 % more operations: real CPU work, not a sleep) through the real
measurement and comparison code, in two modes:

- ``stored``: each side measured by ``aide_timer``'s timer in its own fresh
  process, one after the other, as a stored baseline and a later CI run would
  be; judged by the two-sample Hodges–Lehmann ratio. On the wall clock.
- ``solo`` / ``cpu``: the same, on solo time (wall time minus the thread's
  run-queue wait, the default measure) or on the thread's CPU time, with the
  between-run drift allowed for set by ``--drift`` (default: the gate's,
  ``--aide-drift``). The column ``to confirm`` counts the checks
  whose stored reading ``--aide-confirm`` would measure again
  (``verdict.looks_changed`` at the smaller tolerance).
- ``paired``: both sides measured in one job, interleaved, in two worker
  pytest sessions pinned to one CPU (``--aide-against``: a ``benchmark`` test
  in two checkouts); judged by the paired ratio over rounds.
- ``confirmed``: the stored comparison first, and, where it says or only
  cannot rule one out (``verdict.looks_changed``: its interval not wholly
  within ``1 ± tolerance``), the same-job pairing that
  ``--aide-confirm`` runs against the baseline's commit, which then decides
  (``confirmed`` rows also count how many checks were paired, and the column
  ``s/check unflagged`` gives the median seconds of the checks nothing
  flagged, so were not paired, with their number).
- ``retried``: the stored comparison, and while it reads regressed, the new side
  measured again in the same process after the backoff of ``--aide-confirm``'s
  retry policy (``confirm.RetryPolicy``), up to 3 more times, as a check whose
  baseline records no commit is confirmed. A separate table says how often
  the first 1, 2, 3 and 4 attempts all read regressed: the false alarms and
  detections of ``--aide-confirm 0``, 1, 2 and 3.
- ``instructions`` / ``cycles``: the ``benchmark`` test counted under valgrind
  in fresh counting sessions (``--aide-measure``), judged by the ratio of the
  counts. Slowdowns are +1 %, +2 % and +5 % here, tolerances 1 % and 3 % (the
  default). ``--sessions`` fresh sessions count the unchanged test and as many
  count each slowed one; every pair of two different sessions is one check (a
  stored baseline against a later run), up to ``--aa`` / ``--ab`` of them.

Cases run in shuffled order so that the machine's slow spells hit all alike;
``--stress N`` busy-loops N processes beside the whole run.

    python benchmarks/gate_accuracy.py [--aa 200] [--ab 60] [--modes stored,confirmed,paired]
    python benchmarks/gate_accuracy.py --modes stored,confirmed,retried,paired \
        --paired-aa 40 --paired-ab 10 --stress 2
    python benchmarks/gate_accuracy.py --modes stored,instructions,cycles --stress 2
    python benchmarks/gate_accuracy.py --modes stored,solo,cpu --stress 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stress import spin  # noqa: E402
from pytest_aide.config import DEFAULT_CONFIRM  # noqa: E402
from pytest_aide.confirm import DECIDE_AT, RetryPolicy  # noqa: E402
from pytest_aide.measure.counts import count_items, find_valgrind  # noqa: E402
from pytest_aide.measure.pair import PairPlan, Tree, pair_items  # noqa: E402
from pytest_aide.stats import DEFAULT_DRIFT, percentile  # noqa: E402
from pytest_aide.verdict import compare, compare_counts, looks_changed  # noqa: E402

TOLERANCES = (0.05, 0.10)
SLOWDOWNS = (0.05, 0.10, 0.20)
COUNT_MODES = ("instructions", "cycles")
COUNT_TOLERANCES = (0.01, 0.03)
COUNT_SLOWDOWNS = (0.01, 0.02, 0.05)
RETRIES = 3

_CHILD = """
import json, sys
sys.path[:0] = [{root!r}, {bench!r}]
from pytest_aide.measure.timer import TimingPlan, measure
from workloads import work
for line in sys.stdin:
    print(json.dumps(measure(work, (float(sys.argv[1]),), name="w",
                             plan=TimingPlan(iterations={iterations}, warmup=2,
                                             measure=sys.argv[2])).samples),
          flush=True)
"""


class _Side:
    """A fresh process that measures the workload at one scale each time it is asked."""

    def __init__(self, scale: float, iterations: int, clock: str = "wall") -> None:
        code = _CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), iterations=iterations)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(scale), clock],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def measure(self) -> list[float]:
        """One attempt's samples."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        """End the process."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def _stored(scale: float, iterations: int, clock: str = "wall") -> tuple[list[float], list[float]]:
    sides = []
    for side_scale in (1.0, scale):
        side = _Side(side_scale, iterations, clock)
        sides.append(side.measure())
        side.close()
    return sides[0], sides[1]


def _retried(scale: float, iterations: int, draw: random.Random) -> tuple[list[float], dict]:
    """The stored comparison, then re-measurements of the new side while it reads regressed.

    Returns the first attempt's samples and, per tolerance, how many attempts in a row
    (from the first) read regressed.
    """
    base = _Side(1.0, iterations)
    old = base.measure()
    base.close()
    side = _Side(scale, iterations)
    new = side.measure()
    streak = {t: int(compare("w", old, new, tolerance=t).status == "regressed") for t in TOLERANCES}
    policy = RetryPolicy()
    for retry in range(1, RETRIES + 1):
        if not any(n == retry for n in streak.values()):
            break
        time.sleep(policy.delay(retry, draw.random()))
        again = side.measure()
        for t, n in streak.items():
            if n == retry and compare("w", old, again, tolerance=t).status == "regressed":
                streak[t] += 1
    side.close()
    return old + new, streak


_TEST = "from workloads import work\n\ndef test_w(benchmark):\n    benchmark(work, {scale!r})\n"
_TREES: dict[float, tuple[Tree, Tree]] = {}


def _trees(scale: float) -> tuple[Tree, Tree]:
    """Two checkouts of one benchmark test: A at scale 1, B at ``scale``."""
    if scale not in _TREES:
        sides = []
        for label, side_scale in (("A", 1.0), ("B", scale)):
            root = Path(tempfile.mkdtemp(prefix=f"aide-gate-{label}-"))
            shutil.copy(ROOT / "benchmarks" / "workloads.py", root / "workloads.py")
            (root / "test_w.py").write_text(_TEST.format(scale=side_scale))
            (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
            redirects = {"workloads": [str(root / "workloads.py")]}
            sides.append(Tree(label, root, root / "pytest.ini", redirects))
        _TREES[scale] = (sides[0], sides[1])
    return _TREES[scale]


def _counted(scale: float, mode: str, sessions: int) -> tuple[list[float], list[float]]:
    """Per-call counts of the test at ``scale`` in fresh counting sessions, and their seconds."""
    tree = _trees(scale)[1]
    valgrind = find_valgrind()
    values, seconds = [], []
    for index in range(sessions):
        begin = time.perf_counter()
        run = count_items(
            tree,
            ["test_w.py::test_w"],
            ["-p", "no:randomly", "-p", "no:cacheprovider", "test_w.py"],
            valgrind=valgrind,
            out_dir=tree.rootdir / f"dumps-{mode}-{index}",
            cycles=mode == "cycles",
        )
        (count,) = run.counts.values()
        if count.problem:
            sys.exit(f"counting failed: {count.problem}")
        values.append(float(count.cycles if mode == "cycles" else count.instructions))
        seconds.append(time.perf_counter() - begin)
    return values, seconds


def _count_rows(mode: str, sessions: int, aa: int, ab: int) -> list[str]:
    """Count fresh sessions of each side; judge pairs of different sessions."""
    base, base_seconds = _counted(1.0, mode, sessions)
    rows = []
    cases = [(0.0, list(itertools.combinations(base, 2))[:aa], base_seconds)]
    for slowdown in COUNT_SLOWDOWNS:
        slow, slow_seconds = _counted(1.0 + slowdown, mode, sessions)
        cases.append((slowdown, list(itertools.product(base, slow))[:ab], slow_seconds))
    for slowdown, pairs, seconds in cases:
        flagged = [
            sum(
                compare_counts("w", old, new, mode, tolerance=t, baseline_date="").status
                == "regressed"
                for old, new in pairs
            )
            for t in COUNT_TOLERANCES
        ]
        label = "A/A" if slowdown == 0 else f"+{slowdown:.0%}"
        ratios = [new / old - 1 for old, new in pairs]
        rates = " ".join(f"{f / len(pairs):>10.1%} ({f:>3})" for f in flagged)
        rows.append(
            f"{mode:<12} {label:<6} {len(pairs):>6} {rates} "
            f"{min(ratios):>+8.3%}..{max(ratios):<+8.3%} "
            f"{statistics.median(seconds):>8.1f} ({max(seconds):.1f})"
        )
    return rows


def _paired(scale: float, plan: PairPlan) -> tuple[list[float], list[float]]:
    """What ``--aide-against`` does: the same test in two trees, interleaved, in rounds."""
    a, b = _trees(scale)
    run = pair_items(a, b, ["test_w.py::test_w"], lambda tree: ["test_w.py"], plan=plan)
    (point,) = run.points.values()
    return point.a_rounds, point.b_rounds


def main() -> None:
    """Run the checks and print false-alarm and detection rates per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", type=int, default=200, help="A/A checks per mode")
    parser.add_argument("--ab", type=int, default=60, help="A/B checks per slowdown and mode")
    parser.add_argument("--paired-aa", type=int, help="A/A checks in paired mode (default --aa)")
    parser.add_argument("--paired-ab", type=int, help="A/B checks in paired mode (default --ab)")
    parser.add_argument("--modes", default="stored,paired")
    parser.add_argument("--iterations", type=int, default=30, help="samples per side, stored mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=21, help="fresh counting sessions a side")
    parser.add_argument("--stress", type=int, default=0, help="busy-looping processes beside")
    parser.add_argument(
        "--drift",
        type=float,
        help="between-run drift the stored modes allow for (default: the gate's --aide-drift)",
    )
    parser.add_argument(
        "--ratios",
        type=Path,
        help="write each stored check's ratio new/old to this JSON file, by mode and case",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds after which no new check starts; the tables cover the checks done "
        "(the cases run in shuffled order, so those are a fair sample)",
    )
    args = parser.parse_args()
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.stress)]
    for loop in loops:
        loop.start()
    try:
        _run(args)
    finally:
        for loop in loops:
            loop.terminate()


def _run(args: argparse.Namespace) -> None:
    counted = [m for m in args.modes.split(",") if m in COUNT_MODES]
    modes = [m for m in args.modes.split(",") if m not in COUNT_MODES]
    if modes:
        _wall_clock(args, modes)
    if not counted:
        return
    started = time.perf_counter()
    print()
    print(
        f"{'mode':<12} {'case':<6} {'checks':>6} "
        + " ".join(f"{f'flagged @{t:.0%} tol':>16}" for t in COUNT_TOLERANCES)
        + f" {'change seen':>18} {'s/session med (max)':>20}"
    )
    for mode in counted:
        for row in _count_rows(mode, args.sessions, args.aa, args.ab):
            print(row, flush=True)
    print(
        f"(each check: two different fresh counting sessions, {args.sessions} a side; "
        f"{time.perf_counter() - started:.0f} s)"
    )


def _wall_clock(args: argparse.Namespace, modes: list[str]) -> None:
    """The wall-clock modes' table (stored and paired)."""
    cases = []
    for mode in modes:
        aa = args.paired_aa if mode == "paired" and args.paired_aa is not None else args.aa
        ab = args.paired_ab if mode == "paired" and args.paired_ab is not None else args.ab
        cases += [(mode, 0.0)] * aa + [(mode, s) for s in SLOWDOWNS for _ in range(ab)]
    random.Random(args.seed).shuffle(cases)
    draw = random.Random(args.seed + 1)
    streaks: dict[float, list[dict[float, int]]] = defaultdict(list)

    flagged: dict[tuple[str, float, float], int] = defaultdict(int)
    counts: dict[tuple[str, float], int] = defaultdict(int)
    paired: dict[tuple[str, float], int] = defaultdict(int)
    confirm: dict[tuple[str, float], int] = defaultdict(int)
    ratios: dict[tuple[str, float], list[float]] = defaultdict(list)
    samples: dict[tuple[str, float], list[int]] = defaultdict(list)
    seconds: dict[tuple[str, float], list[float]] = defaultdict(list)
    unflagged: dict[tuple[str, float], list[float]] = defaultdict(list)
    """Seconds of the checks that nothing flagged: stored checks, and confirmed checks
    whose stored reading did not look changed, so were not paired."""
    started = time.perf_counter()
    for done, (mode, slowdown) in enumerate(cases, 1):
        if args.budget is not None and time.perf_counter() - started > args.budget:
            print(f"  budget of {args.budget:.0f} s spent: {done - 1} of {len(cases)} checks run")
            break
        begin = time.perf_counter()
        was_paired = False
        if mode == "retried":
            both, streak = _retried(1.0 + slowdown, args.iterations, draw)
            streaks[slowdown].append(streak)
            old, new = both, []
            verdicts = {t: "regressed" if n > DEFAULT_CONFIRM else "-" for t, n in streak.items()}
        elif mode == "paired":
            old, new = _paired(1.0 + slowdown, PairPlan())
            verdicts = {
                t: compare("w", old, new, tolerance=t, against="B").status for t in TOLERANCES
            }
        else:
            clock = mode if mode in ("solo", "cpu") else "wall"
            drift = args.drift if args.drift is not None else DEFAULT_DRIFT
            old, new = _stored(1.0 + slowdown, args.iterations, clock)
            stored = {t: compare("w", old, new, tolerance=t, drift=drift) for t in TOLERANCES}
            verdicts = {t: c.status for t, c in stored.items()}
            confirm[mode, slowdown] += looks_changed(stored[min(TOLERANCES)])
            ratios[mode, slowdown].append(stored[min(TOLERANCES)].estimate.ratio)
            if mode == "confirmed" and any(looks_changed(c) for c in stored.values()):
                plan = PairPlan(tolerance=min(TOLERANCES), decide_at=DECIDE_AT)
                a_rounds, b_rounds = _paired(1.0 + slowdown, plan)
                paired[mode, slowdown] += 1
                was_paired = True
                for t, c in stored.items():
                    if looks_changed(c):
                        verdicts[t] = compare(
                            "w", a_rounds, b_rounds, tolerance=t, against="B"
                        ).status
        for tolerance, status in verdicts.items():
            flagged[mode, slowdown, tolerance] += status == "regressed"
        counts[mode, slowdown] += 1
        samples[mode, slowdown].append(len(old) + len(new))
        seconds[mode, slowdown].append(time.perf_counter() - begin)
        if mode in ("stored", "solo", "cpu") or (mode == "confirmed" and not was_paired):
            unflagged[mode, slowdown].append(time.perf_counter() - begin)
        if done % 50 == 0:
            print(
                f"  {done}/{len(cases)} checks, {time.perf_counter() - started:.0f} s", flush=True
            )

    print()
    print(
        f"{'mode':<7} {'case':<6} {'checks':>6} {'samples/check':>13} "
        + " ".join(f"{f'flagged @{t:.0%} tol':>16}" for t in TOLERANCES)
        + f" {'s/check median (max)':>21} {'paired':>7} {'s/check unflagged':>17}"
        + f" {'to confirm':>10} {'ratio min..max':>16} {'ratio p5..p95':>15}"
    )
    for mode in modes:
        for slowdown in (0.0, *SLOWDOWNS):
            n = counts[mode, slowdown]
            if not n:
                continue
            label = "A/A" if slowdown == 0 else f"+{slowdown:.0%}"
            rates = " ".join(
                f"{flagged[mode, slowdown, t] / n:>10.1%} ({flagged[mode, slowdown, t]:>3})"
                for t in TOLERANCES
            )
            times = seconds[mode, slowdown]
            quiet = unflagged[mode, slowdown]
            print(
                f"{mode:<7} {label:<6} {n:>6} {statistics.median(samples[mode, slowdown]):>13.0f} "
                f"{rates} {statistics.median(times):>12.2f} ({max(times):.2f}) "
                f"{paired[mode, slowdown] if mode == 'confirmed' else '-':>7} "
                f"{f'{statistics.median(quiet):.2f} ({len(quiet)})' if quiet else '-':>17}"
                f" {_share(confirm[mode, slowdown], n) if ratios[mode, slowdown] else '-':>10}"
                f" {_span(ratios[mode, slowdown]):>16}"
                f" {_middle(ratios[mode, slowdown]):>15}"
            )
    print(
        f"(A/A rows: false alarms; other rows: detections. {sum(counts.values())} checks in "
        f"{time.perf_counter() - started:.0f} s; workload: benchmarks/workloads.py:work; "
        f"{args.stress} busy loop(s) beside; retried rows at --aide-confirm {DEFAULT_CONFIRM})"
    )
    if streaks:
        _retry_table(streaks)
    if args.ratios:
        dump = defaultdict(dict)
        for (mode, slowdown), values in ratios.items():
            dump[mode][f"{slowdown:+.0%}"] = values
        args.ratios.write_text(json.dumps(dump, indent=1))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}"


def _span(ratios: list[float]) -> str:
    if not ratios:
        return "-"
    return f"{min(ratios) - 1:+.1%}..{max(ratios) - 1:+.1%}"


def _middle(ratios: list[float]) -> str:
    """The 5th to the 95th percentile of the estimated ratios, as changes."""
    if len(ratios) < 2:
        return "-"
    low, high = percentile(ratios, 5), percentile(ratios, 95)
    return f"{low - 1:+.1%}..{high - 1:+.1%}"


def _retry_table(streaks: dict[float, list[dict[float, int]]]) -> None:
    """How often every one of the first N + 1 attempts read regressed, by N."""
    print()
    print(
        f"{'retried':<8} {'case':<6} {'checks':>6} "
        + " ".join(f"{f'flagged @{t:.0%} tol':>16}" for t in TOLERANCES)
    )
    for slowdown in (0.0, *SLOWDOWNS):
        rows = streaks.get(slowdown, [])
        label = "A/A" if slowdown == 0 else f"+{slowdown:.0%}"
        for retries in range(RETRIES + 1):
            hits = {t: sum(s[t] > retries for s in rows) for t in TOLERANCES}
            rates = " ".join(
                f"{hits[t] / max(1, len(rows)):>10.1%} ({hits[t]:>3})" for t in TOLERANCES
            )
            print(f"{f'N={retries}':<8} {label:<6} {len(rows):>6} {rates}")
    print(f"(N: --aide-confirm N, re-measurements after a regressed reading; {RETRIES} at most)")


if __name__ == "__main__":
    main()
