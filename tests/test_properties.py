"""Hypothesis: the baseline store as a state machine, and properties of the verdict logic."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from pytest_aide.baselines import (
    BASELINE_SCHEMA,
    Baseline,
    BaselineError,
    baseline_relpath,
    load_baseline,
)
from pytest_aide.check import Check
from pytest_aide.gate import Gate
from pytest_aide.results import LoadResult, MemoryResult, TimingResult
from pytest_aide.stats import MIN_RUN_SAMPLES
from pytest_aide.verdict import THRESHOLD_KEYS, Comparison, Threshold, compare, judge

SLUG = "machine"
IDS = ("scenarios/a.toml::one", "tests/test_b.py::test_two", "tests/test_b.py::T::test[x/y]")
samples = st.lists(st.floats(min_value=1e-6, max_value=1.0), min_size=2, max_size=40)

# What a stored file holds, in the model: ("good", samples), ("corrupt", bytes),
# or ("kept", bytes) for a file that must never be replaced (newer schema, other id).
GARBAGE = st.sampled_from([b"", b"{", b'{"schema": 1', bytes(range(256)), b"[]", b"null"])


class BaselineStore(RuleBasedStateMachine):
    """Save, load, compare, corrupt and interrupt; nothing is ever lost or half-written."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="aide-store-"))
        self.model: dict[str, tuple[str, object]] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _path(self, nodeid: str) -> Path:
        return self.root / SLUG / baseline_relpath(nodeid)

    def _gate(self, *, save: bool) -> Gate:
        return Gate(
            baseline_dir=self.root,
            rootdir=self.root,
            machine={"cores": 2},
            slug=SLUG,
            profile="default",
            tolerance=0.10,
            save=save,
        )

    def _check(self, nodeid: str, values: list[float]) -> Check:
        check = Check(nodeid.rpartition("::")[2], nodeid)
        check.results.append(TimingResult(check.name, values))
        return check

    @rule(target=ids, nodeid=st.sampled_from(IDS))
    def pick(self, nodeid: str) -> str:
        return nodeid

    @rule(nodeid=ids, values=samples)
    def save(self, nodeid: str, values: list[float]) -> None:
        before = self._bytes(nodeid)
        verdict = self._gate(save=True).evaluate(self._check(nodeid, values))
        state = self.model.get(nodeid)
        if state is not None and state[0] == "kept":
            assert any("not replaced" in p for p in verdict.problems)
            assert self._bytes(nodeid) == before
        else:
            assert not verdict.problems
            self.model[nodeid] = ("good", values)

    @rule(nodeid=ids)
    def load(self, nodeid: str) -> None:
        state = self.model.get(nodeid)
        path = self._path(nodeid)
        if state is None:
            assert not path.exists()
            return
        try:
            baseline = load_baseline(path, nodeid)
        except BaselineError as exc:
            assert state[0] != "good"
            assert str(exc).startswith(str(path))
            assert exc.keep == (state[0] == "kept")
        else:
            assert state[0] == "good"
            assert baseline.results[0].samples == state[1]

    @rule(nodeid=ids, values=samples)
    def compare(self, nodeid: str, values: list[float]) -> None:
        before = self._bytes(nodeid)
        verdict = self._gate(save=False).evaluate(self._check(nodeid, values))
        state = self.model.get(nodeid)
        if state is None:
            assert not verdict.comparisons and not verdict.problems
        elif state[0] == "good":
            assert [c.subject for c in verdict.comparisons] == [nodeid.rpartition("::")[2]]
            assert not verdict.problems
        else:
            shown = str(self._path(nodeid).relative_to(self.root))
            assert len(verdict.problems) == 1 and f": {shown}: " in verdict.problems[0]
        assert self._bytes(nodeid) == before  # comparing never writes

    @rule(nodeid=ids, garbage=GARBAGE)
    def corrupt(self, nodeid: str, garbage: bytes) -> None:
        self._write(nodeid, garbage)
        self.model[nodeid] = ("corrupt", garbage)

    @rule(nodeid=ids, newer=st.booleans())
    def store_data_of_another_kind(self, nodeid: str, newer: bool) -> None:
        data = Baseline(nodeid, [TimingResult("x", [1.0, 2.0])], {}).to_dict()
        if newer:
            data["schema"] = BASELINE_SCHEMA + 1
        else:
            data["id"] = "tests/elsewhere.py::test_other"
        raw = json.dumps(data).encode()
        self._write(nodeid, raw)
        self.model[nodeid] = ("kept", raw)

    @rule(nodeid=ids, cut=st.integers(min_value=0, max_value=400), values=samples)
    def interrupt(self, nodeid: str, cut: int, values: list[float]) -> None:
        """A writer killed mid-save leaves only its hidden temporary file, cut anywhere."""
        path = self._path(nodeid)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Baseline(nodeid, [TimingResult("x", values)], {}).to_text()
        (path.parent / f".{path.name}.killed{cut}.tmp").write_text(text[:cut])

    @invariant()
    def every_file_is_what_the_model_says(self) -> None:
        for nodeid in IDS:
            state = self.model.get(nodeid)
            if state is None:
                assert not self._path(nodeid).exists()
            elif state[0] != "good":
                assert self._bytes(nodeid) == state[1]
        stored = {p for p in self.root.rglob("*") if p.is_file() and not p.name.endswith(".tmp")}
        assert stored == {self._path(nodeid) for nodeid in self.model}

    def _bytes(self, nodeid: str) -> bytes | None:
        path = self._path(nodeid)
        return path.read_bytes() if path.exists() else None

    def _write(self, nodeid: str, data: bytes) -> None:
        path = self._path(nodeid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


TestBaselineStore = BaselineStore.TestCase
TestBaselineStore.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


# --- the verdict -----------------------------------------------------------

positive = st.floats(min_value=1e-6, max_value=100.0)
TIME_KEYS = ["mean", "median", "min", "max", "p95", "p99"]


@given(samples, positive, positive, st.sampled_from(TIME_KEYS))
def test_a_looser_upper_limit_never_fails_what_a_tighter_one_passed(
    values: list[float], a: float, b: float, key: str
) -> None:
    tight, loose = sorted((a, b))
    result = TimingResult("r", values)
    passed_tight = judge("r", [result], {key: Threshold(key, tight)}).passed
    passed_loose = judge("r", [result], {key: Threshold(key, loose)}).passed
    assert passed_loose or not passed_tight


@given(st.lists(positive, min_size=1, max_size=40), positive, positive)
def test_a_lower_throughput_floor_never_fails_what_a_higher_one_passed(
    latencies: list[float], a: float, b: float
) -> None:
    low, high = sorted((a, b))
    result = LoadResult("load", latencies, wall_time=sum(latencies), concurrency=1)
    floor = judge("load", [result], {"throughput_min": Threshold("throughput_min", low)})
    ceiling = judge("load", [result], {"throughput_min": Threshold("throughput_min", high)})
    assert floor.passed or not ceiling.passed


@given(st.sampled_from(sorted(k for k, s in THRESHOLD_KEYS.items() if s.metric)), positive)
def test_a_limit_on_something_not_measured_is_a_problem_never_a_pass(
    key: str, limit: float
) -> None:
    memory_only = MemoryResult("m", peak_bytes=10, allocations=1, leaked_bytes=0)
    metric = THRESHOLD_KEYS[key].metric
    assume(metric not in memory_only.metrics())
    verdict = judge("m", [memory_only], {key: Threshold(key, limit)})
    assert not verdict.passed
    assert verdict.problems == [f"m: threshold {key!r} is set but nothing measured {metric!r}"]


@given(samples, samples, st.floats(min_value=0.0, max_value=2.0))
def test_comparison_status_is_consistent(old: list[float], new: list[float], tol: float) -> None:
    comparison = compare("r", old, new, tolerance=tol)
    e = comparison.estimate
    assert e.low <= e.ratio <= e.high
    if comparison.status == "regressed":
        assert e.low > 1.0 and e.ratio > 1.0 + tol
    elif comparison.status == "improved":
        assert e.high < 1.0 and e.ratio < 1.0 / (1.0 + tol)
    elif comparison.status == "undecided":
        assert min(len(old), len(new)) < MIN_RUN_SAMPLES
        assert comparison.undecided == f"not enough samples to compare ({len(old)} vs {len(new)})"
    else:
        assert not (e.low > 1.0 and e.ratio > 1.0 + tol)


def _near_a_bound(comparison: Comparison, tol: float) -> bool:
    e = comparison.estimate
    bounds = (1.0, 1.0 + tol, 1.0 / (1.0 + tol))
    return any(math.isclose(v, b, rel_tol=1e-9) for v in (e.low, e.ratio, e.high) for b in bounds)


@given(samples, samples, st.floats(min_value=0.0, max_value=2.0))
def test_swapping_old_and_new_swaps_regressed_and_improved(
    old: list[float], new: list[float], tol: float
) -> None:
    forward = compare("r", old, new, tolerance=tol)
    backward = compare("r", new, old, tolerance=tol)
    assume(not _near_a_bound(forward, tol) and not _near_a_bound(backward, tol))
    mirror = {
        "regressed": "improved",
        "improved": "regressed",
        "unchanged": "unchanged",
        "undecided": "undecided",
    }
    assert backward.status == mirror[forward.status]


@given(samples, samples, st.integers(min_value=-20, max_value=20))
def test_the_unit_of_time_does_not_change_the_status(
    old: list[float], new: list[float], power: int
) -> None:
    scale = 2.0**power  # exact in binary floating point
    plain = compare("r", old, new, tolerance=0.1)
    scaled = compare("r", [v * scale for v in old], [v * scale for v in new], tolerance=0.1)
    assert scaled.status == plain.status


@given(samples, samples)
def test_a_comparison_that_does_not_gate_never_fails_the_check(
    old: list[float], new: list[float]
) -> None:
    check = Check("r", "t.py::test_r", results=[TimingResult("r", new)])
    verdict = check.judge()
    verdict.comparisons.append(compare("r", old, new, tolerance=0.0, gating=False))
    assert verdict.passed
    assert check.status in ("PASS", "IMPROVED")


@given(
    samples,
    st.dictionaries(st.sampled_from(TIME_KEYS), positive, max_size=3),
    st.sampled_from(["passed", "failed", "skipped", "error"]),
    st.one_of(st.none(), samples),
)
def test_a_check_travels_between_processes_unchanged(
    values: list[float], limits: dict[str, float], outcome: str, old: list[float] | None
) -> None:
    """What an xdist worker sends is what the controller judges and reports."""
    thresholds = {key: Threshold(key, limit, "profile ci") for key, limit in limits.items()}
    check = Check("r", "t.py::test_r", thresholds, [TimingResult("r", values)], outcome=outcome)
    verdict = check.judge()
    verdict.notes.append("r: a note")
    if old is not None:
        verdict.comparisons.append(compare("r", old, values, tolerance=0.1))
    again = Check.from_dict(json.loads(json.dumps(check.to_dict())))
    assert again.to_dict() == check.to_dict()
    assert again.status == check.status
    assert again.verdict is not None and again.verdict.lines() == verdict.lines()
