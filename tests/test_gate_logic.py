"""The gate's decisions on given samples, independent of this machine's speed.

The samples are fixed (a seeded spread of 3 % around 1 ms, as a quiet machine
gives); the "slower" side is the same samples scaled by an exact factor, so every
verdict here is decided by the gate, never by how busy the machine is (measured
samples on a loaded machine spread 2.5x, which no 30 % factor can clear).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pytest_aide.baselines import Baseline, baseline_relpath, save_baseline
from pytest_aide.check import Check
from pytest_aide.gate import Gate
from pytest_aide.measure.system import machine_info
from pytest_aide.results import TimingResult
from pytest_aide.verdict import ThresholdError, parse_thresholds

NODEID = "tests/test_perf.py::test_diag"


@pytest.fixture(scope="module")
def samples() -> list[float]:
    rng = random.Random(2026)
    return [0.001 * rng.lognormvariate(0.0, 0.03) for _ in range(30)]


def _check(samples: list[float], factor: float = 1.0, **thresholds: object) -> Check:
    result = TimingResult("test_diag", [s * factor for s in samples], calls_per_sample=7)
    return Check("test_diag", NODEID, parse_thresholds(thresholds), [result])


def _gate(tmp_path: Path, **kwargs: object) -> Gate:
    options = {
        "baseline_dir": tmp_path / "baselines",
        "rootdir": tmp_path,
        "machine": machine_info(),
        "slug": "this-machine",
        "profile": "default",
        "tolerance": 0.10,
        **kwargs,
    }
    return Gate(**options)  # type: ignore[arg-type]


def _record(tmp_path: Path, samples: list[float], slug: str = "this-machine") -> Path:
    path = tmp_path / "baselines" / slug / baseline_relpath(NODEID)
    result = TimingResult("test_diag", list(samples), calls_per_sample=7)
    save_baseline(path, Baseline(id=NODEID, results=[result], machine=machine_info()))
    return path


def test_thirty_percent_slower_is_flagged(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples)
    verdict = _gate(tmp_path).evaluate(_check(samples, 1.3))
    assert verdict.status == "REGRESSED" and not verdict.passed
    (line,) = verdict.lines()
    assert line.startswith("test_diag: regressed +30.0 % (95 % CI +")
    assert line.endswith(" vs baseline of " + line.split("baseline of ")[1])
    assert ", tolerance 10 %" in line


def test_identical_rerun_is_not_flagged(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples)
    verdict = _gate(tmp_path).evaluate(_check(samples))
    assert verdict.passed and verdict.status == "PASS"
    (comparison,) = verdict.comparisons
    assert comparison.estimate.ratio == pytest.approx(1.0)
    assert comparison.status == "unchanged"


def test_figures_are_per_call_whatever_the_batching(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples)
    rebatched = _check(samples)
    rebatched.results[0].calls_per_sample = 900
    assert _gate(tmp_path).evaluate(rebatched).comparisons[0].estimate.ratio == pytest.approx(1)


def test_per_check_regression_max_beats_the_session_tolerance(
    tmp_path: Path, samples: list[float]
) -> None:
    _record(tmp_path, samples)
    assert _gate(tmp_path).evaluate(_check(samples, 1.3, regression_max="50%")).passed
    assert (
        not _gate(tmp_path, tolerance=0.5)
        .evaluate(_check(samples, 1.3, regression_max="5%"))
        .passed
    )


def test_improvement_is_reported(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples)
    verdict = _gate(tmp_path).evaluate(_check(samples, 0.6))
    assert verdict.passed and verdict.status == "IMPROVED"


def test_other_machines_baseline_is_information_unless_asked(
    tmp_path: Path, samples: list[float]
) -> None:
    _record(tmp_path, samples, slug="other-machine")
    verdict = _gate(tmp_path).evaluate(_check(samples, 1.3))
    assert verdict.passed and verdict.comparisons[0].status == "regressed"
    assert "from another machine (other-machine); reported only" in verdict.notes[0]
    gated = _gate(tmp_path, any_machine=True).evaluate(_check(samples, 1.3))
    assert gated.status == "REGRESSED" and "gating anyway" in gated.notes[0]


def test_saving_does_not_gate_and_writes_the_new_samples(
    tmp_path: Path, samples: list[float]
) -> None:
    path = _record(tmp_path, samples)
    check = _check(samples, 1.3)
    verdict = _gate(tmp_path, save=True).evaluate(check)
    assert verdict.passed and not verdict.comparisons[0].gating
    assert check.saved_baseline == path.relative_to(tmp_path).as_posix()
    after = _gate(tmp_path).evaluate(_check(samples, 1.3))
    assert after.comparisons[0].estimate.ratio == pytest.approx(1.0)


def test_no_compare_reads_nothing(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples).write_text("{ corrupt")
    verdict = _gate(tmp_path, compare=False).evaluate(_check(samples, 3.0))
    assert verdict.passed and verdict.comparisons == [] and verdict.problems == []


def test_smoke_results_are_neither_compared_nor_saved(tmp_path: Path, samples: list[float]) -> None:
    _record(tmp_path, samples)
    check = _check(samples, 3.0)
    check.results[0].mode = "smoke"
    verdict = _gate(tmp_path, save=True).evaluate(check)
    assert verdict.comparisons == [] and check.saved_baseline is None


def test_a_threshold_too_large_for_a_float_is_one_clear_error() -> None:
    with pytest.raises(ThresholdError, match=r"'throughput_min': invalid number 1000.*: too large"):
        parse_thresholds({"throughput_min": 10**400}, "scenarios/gen.toml")
