"""Scaling checks: the cost measured at several sizes, its order of growth fitted and judged."""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.growth import (
    NAMED_ORDERS,
    Fit,
    GrowthError,
    compare_fits,
    fit_growth,
    growth_failure,
    parse_order,
    scaling_spec,
    unjudgeable,
)
from pytest_aide.results import ScalingResult, result_from_dict

SIZES = [1000, 3000, 10000, 30000, 100000]
SCHEMA = Path(__file__).parent.parent / "pytest_aide" / "report" / "report.schema.json"


def _costs(order: str, overhead: float = 2e-6) -> list[float]:
    g = NAMED_ORDERS[order].g
    return [overhead + 1e-9 * g(n) for n in SIZES]


@pytest.mark.parametrize("order", list(NAMED_ORDERS))
def test_exact_costs_are_given_their_own_order(order: str) -> None:
    fit = fit_growth(SIZES, [[c] for c in _costs(order)], exact=True)
    assert fit.best.name == order and fit.share is None


@pytest.mark.parametrize(("order", "exponent"), [("n", 1.0), ("n²", 2.0), ("n³", 3.0)])
def test_the_fitted_exponent_of_a_power_is_its_power(order: str, exponent: float) -> None:
    fit = fit_growth(SIZES, [[c] for c in _costs(order, overhead=0.0)], exact=True)
    assert fit.exponent == pytest.approx(exponent, abs=0.01)
    assert fit.low <= fit.exponent <= fit.high


@pytest.mark.parametrize("order", ["n", "n log n", "n²"])
def test_noisy_samples_keep_their_order_and_give_an_interval(order: str) -> None:
    draw = random.Random(order)
    # Per size, 9 samples spread by +-10 % and one outlier twice as slow: a busy machine.
    samples = [[c * draw.uniform(0.9, 1.1) for _ in range(9)] + [2 * c] for c in _costs(order)]
    fit = fit_growth(SIZES, samples)
    assert fit.best.name == order
    assert fit.low < fit.exponent < fit.high and fit.share is not None and fit.share > 0.5
    assert fit_growth(SIZES, samples) == fit  # seeded: the same figures give the same fit


def test_the_declared_order_is_an_upper_bound() -> None:
    linear = fit_growth(SIZES, [[c] for c in _costs("n")], exact=True)
    assert growth_failure(linear, parse_order("n log n")) is None
    assert growth_failure(linear, parse_order("n")) is None
    failure = growth_failure(linear, parse_order("log n"))
    assert failure is not None and failure.startswith("grows as n (exponent 1.0")
    assert failure.endswith("worse than the declared log n")
    assert growth_failure(linear, parse_order("n^1.5")) is None
    assert growth_failure(linear, parse_order("n^0.5")) is not None


def test_a_change_of_order_counts_only_when_the_exponents_are_apart() -> None:
    def fit(order: str, low: float, high: float) -> Fit:
        return Fit(parse_order(order), (low + high) / 2, low, high)

    assert compare_fits(fit("n", 0.98, 1.02), fit("n²", 1.95, 2.05)) == "grew"
    assert compare_fits(fit("n²", 1.95, 2.05), fit("n", 0.98, 1.02)) == "fell"
    # n and n log n on a busy machine: the choice tipped, the intervals did not part.
    assert compare_fits(fit("n", 0.99, 1.26), fit("n log n", 1.10, 1.20)) == "unclear"
    assert compare_fits(fit("n", 0.99, 1.01), fit("n", 0.97, 1.05)) == "same"


def test_on_time_a_cache_bent_linear_curve_passes_a_linear_bound_counts_do_not() -> None:
    # Per-item cost 30 % higher at the largest size than at the smallest: caches, not code.
    bent = [2e-6 + 1e-8 * n * (1 + 0.3 * math.log(n / SIZES[0]) / math.log(100)) for n in SIZES]
    fit = fit_growth(SIZES, [[c] for c in bent], exact=True)
    assert fit.best.name == "n log n"
    assert growth_failure(fit, parse_order("n")) is None
    assert growth_failure(fit, parse_order("n"), exact=True) is not None
    # True n log n against a linear bound fails on time too.
    nlogn = fit_growth(SIZES, [[c] for c in _costs("n log n")], exact=True)
    assert growth_failure(nlogn, parse_order("n")) is not None
    # On time n log n must fit x1.5 better than n to be named: this curve reads n.
    result = ScalingResult("bent", SIZES, [[c] for c in bent], "n")
    assert result.fit.best.name == "n"
    assert result.failure() is None
    assert re.search(r"grows as n \(exponent 1\.0\d .*; declared n$", result.summary())


@pytest.mark.parametrize(
    ("written", "name"),
    [("n log n", "n log n"), ("O(n^2)", "n²"), ("n**3", "n³"), ("nlogn", "n log n"), (1, "1")],
)
def test_orders_are_read_as_people_write_them(written: object, name: str) -> None:
    assert parse_order(written).name == name
    assert parse_order("n^1.5").name == "n^1.5"


@pytest.mark.parametrize("bad", ["n^", "quadratic", 2, True, "n^11"])
def test_an_unknown_order_is_one_line(bad: object) -> None:
    with pytest.raises(GrowthError, match=r"order .*: expected"):
        parse_order(bad)


def test_sizes_that_cannot_tell_the_orders_apart_are_refused() -> None:
    declared = parse_order("n")
    assert unjudgeable(SIZES, declared, exact=False) is None
    assert "span x8: on wall time they must span two decades" in (
        unjudgeable([1000, 2000, 4000, 8000], declared, exact=False) or ""
    )
    assert "needs at least 4" in (unjudgeable([10, 100, 1000], declared, exact=False) or "")
    assert unjudgeable([10, 100, 1000], declared, exact=True) is None
    why = unjudgeable([1000, 1200, 1400], declared, exact=True) or ""
    assert why.startswith("sizes 1000..1400 cannot tell n from n log n on instruction counts")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"sizes": [1, 2, 3]}, "'order' is missing"),
        ({"order": "n"}, "'sizes' is missing"),
        ({"sizes": [10, 10, 100], "order": "n"}, "at least 3 different sizes"),
        ({"sizes": [0, 10, 100], "order": "n"}, "whole numbers from 1"),
        ({"sizes": [1, 10, 100], "order": "n", "arg": "2x"}, "arg: expected a keyword"),
        ({"sizes": [1, 10, 100], "order": "n", "sise": 1}, "unknown option 'sise'"),
    ],
)
def test_a_bad_scaling_table_is_one_line(table: dict, message: str) -> None:
    with pytest.raises(GrowthError, match=message):
        scaling_spec(table)


def test_a_scaling_result_round_trips_and_matches_the_schema() -> None:
    result = ScalingResult("s", SIZES, [[c, c * 1.01] for c in _costs("n²")], "n", arg="items")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["fit"]["best"] == "n²" and data["failure"].startswith("grows as n²")
    again = result_from_dict(data)
    assert isinstance(again, ScalingResult) and again.fit.best.name == "n²"
    assert again.labels()[0] == "s[items=1000]"
    schema = json.loads(SCHEMA.read_text())
    defs = {"$defs": schema["$defs"], **schema["$defs"]["result"]}
    jsonschema.validate(data, defs)


WORK = """
import os


def make(n):
    return list(range(n))


def total(items):
    if os.environ.get("AIDE_TEST_QUADRATIC"):
        return sum(1 for a in items for b in items if a < b)
    return sum(x & 7 for x in items)


def pairs(items):
    return sum(1 for a in items for b in items if a < b)
"""

SCALING = (
    'scaling = { sizes = [30, 100, 300, 1000, 3000], arg = "items", setup = "work:make", '
    'order = "n log n" }'
)
SCENARIOS = """
[scenarios.linear]
target = "work:total"
iterations = 3
warmup = 0
SCALING

[scenarios.quadratic]
target = "work:pairs"
iterations = 3
warmup = 0
scaling = { sizes = [30, 100, 300, 1000, 3000], setup = "work:make", order = "n" }
""".replace("SCALING", SCALING)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\naide_explain = never\n")
    pytester.makepyfile(work=WORK)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(SCENARIOS)
    return pytester


def _report(pytester: pytest.Pytester) -> dict:
    return {
        c["name"]: c
        for c in json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"]
    }


def test_a_quadratic_scenario_breaks_a_linear_bound_and_a_linear_one_passes(
    project: pytest.Pytester,
) -> None:
    # n against n² over a hundredfold span: a factor of 100 apart, beyond any machine's noise.
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "quadratic: grows as n² (exponent *), worse than the declared n",
            "linear: items = 30..3,000 (5 sizes) on solo time: grows as * declared n log n",
            "quadratic *grows as n²*order <= n*FAIL",
        ]
    )
    checks = _report(project)
    (scaling,) = checks["linear"]["results"]
    assert scaling["kind"] == "scaling" and scaling["sizes"][0] == 30
    assert len(scaling["samples"]) == 5 and scaling["fit"]["best"] in ("1", "log n", "n", "n log n")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(json.loads((project.path / ".aide" / "report.json").read_text()), schema)
    markdown = (project.path / ".aide" / "report.md").read_text()
    assert "## Scaling" in markdown and "| items | solo time per call |" in markdown
    html = (project.path / ".aide" / "report.html").read_text()
    assert "scaling-0" in html and "scaling-1" in html and "declared bound" in html


def test_without_perf_the_smallest_size_is_called_once(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_calls="""
        CALLS = []

        def record(n):
            CALLS.append(n)

        def test_once(aide_scaling):
            result = aide_scaling(record, sizes=[10, 100, 1000], order="n")
            assert CALLS == [10] and result.name == "test_once"
        """
    )
    project.runpytest("test_calls.py").assert_outcomes(passed=1)


def test_the_fixture_passes_each_size_and_builds_inputs_outside_the_measurement(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_fixture="""
        from work import make, total

        BUILT = []

        def build(n):
            BUILT.append(n)
            return make(n)

        def test_grows(aide_scaling):
            result = aide_scaling(
                total, sizes=[30, 100, 300, 1000, 3000], order="n log n", setup=build,
                arg="items", iterations=3, warmup=0,
            )
            assert BUILT == [30, 100, 300, 1000, 3000]  # once per size, not per call
            assert result.sizes == BUILT and len(result.samples) == 5

        def test_bad(aide_scaling):
            aide_scaling(total, sizes=[30, 100], order="n")
        """
    )
    result = project.runpytest("--aide-perf", "test_fixture.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*aide_scaling: sizes: expected at least 3 different sizes*"])


def test_sizes_too_close_for_wall_time_refuse_to_judge(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "s.toml").write_text(
        SCENARIOS.replace("[30, 100, 300, 1000, 3000], arg", "[1000, 2000, 4000, 8000], arg")
    )
    result = project.runpytest("--aide-perf", "scenarios", "-k", "linear")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "linear: scaling not judged: sizes 1000..8000 span x8: on wall time they must span "
            "two decades (x100) to tell n log n from n² (e.g. 4 sizes or more from 1000 to "
            "128000)"
        ]
    )
    # The sizes were measured and the fit is shown, judged or not.
    result.stdout.fnmatch_lines(
        ["linear: items = 1,000..8,000 (4 sizes): not judged: *; read as *"]
    )
    assert _report(project)["linear"]["results"][0]["fit"] is not None


def test_an_order_the_data_clearly_exceed_fails_whatever_the_span(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "s.toml").write_text(
        SCENARIOS.replace("[30, 100, 300, 1000, 3000], setup", "[50, 100, 200, 400], setup")
    )
    result = project.runpytest("--aide-perf", "scenarios", "-k", "quadratic")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["quadratic: grows as n² (exponent *), worse than the declared n"])
    assert "not judged" not in result.stdout.str()


@pytest.mark.parametrize(
    ("edit", "message", "outcomes"),
    [
        (
            ('order = "n log n"', 'order = "n lg n"'),
            "order 'n lg n': expected one of",
            {"errors": 1, "failed": 1},
        ),
        (
            ('setup = "work:make", order = "n log n"', 'setup = "work:nope", order = "n"'),
            "key 'scaling': setup: ",
            {"failed": 2},
        ),
        (
            ("iterations = 3\nwarmup = 0\nscaling", "load = { concurrency = 2 }\nscaling"),
            "key 'load': a 'scaling' check times single calls at each size",
            {"errors": 1, "failed": 1},
        ),
    ],
)
def test_a_bad_scaling_scenario_is_one_line_and_the_other_runs(
    project: pytest.Pytester, edit: tuple[str, str], message: str, outcomes: dict[str, int]
) -> None:
    (project.path / "scenarios" / "s.toml").write_text(SCENARIOS.replace(*edit, 1))
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(**outcomes)  # the quadratic one still runs, and fails on its merits
    result.stdout.fnmatch_lines([f"*scenarios/s.toml: scenario 'linear': *{message}*"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert "pytest_aide/" not in result.stdout.str()


def test_an_order_that_grew_since_the_baseline_is_a_regression(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.path / "scenarios" / "s.toml").write_text(
        SCENARIOS.replace('order = "n log n"', 'order = "n³"')
    )
    saved = project.runpytest("--aide-perf", "scenarios", "-k", "linear", "--aide-save-baseline")
    saved.assert_outcomes(passed=1)
    baseline = next((project.path / "baselines").rglob("linear.json"))
    stored = json.loads(baseline.read_text())
    assert [r["kind"] for r in stored["results"]] == ["scaling"]
    monkeypatch.setenv("AIDE_TEST_QUADRATIC", "1")
    result = project.runpytest("--aide-perf", "scenarios", "-k", "linear")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["linear: order grew from * to n² (exponent *) since the baseline of *"]
    )
    assert _report(project)["linear"]["status"] == "REGRESSED"
    assert json.loads(baseline.read_text()) == stored  # not rewritten
    compared = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_aide.cli",
            "compare",
            str(baseline.parent.parent),
            str(project.path / ".aide" / "report.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compared.returncode == 1, compared.stdout + compared.stderr
    assert "order of growth: scenarios/s.toml::linear: " in compared.stdout
    assert "-> n² (exponent" in compared.stdout and ": regressed" in compared.stdout


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_on_instruction_counts_the_fit_is_exact(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "s.toml").write_text(
        SCENARIOS.replace("warmup = 0\nscaling", 'warmup = 0\nmeasure = "instructions"\nscaling', 1)
    )
    result = project.runpytest("--aide-perf", "scenarios", "-k", "linear")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["linear: items = 30..3,000 (5 sizes) on instructions: grows as n *"]
    )
    (scaling,) = _report(project)["linear"]["results"]
    counts = scaling["counts"]
    assert scaling["measure"] == "instructions" and len(counts) == 5
    # The count per item is the same at every size, to a fraction of the per-call overhead.
    sizes = [30, 100, 300, 1000, 3000]
    steps = zip(counts, counts[1:], sizes, sizes[1:], strict=False)
    per_item = [(b - a) / (m - n) for a, b, n, m in steps]
    assert max(per_item) / min(per_item) < 1.05 and not math.isnan(per_item[0])


def test_against_a_revision_each_size_is_paired_in_the_same_job(
    project: pytest.Pytester,
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=a@b", "-c", "user.name=a", *args],
            cwd=project.path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    # Six times the work per item: far outside any machine's noise, at every size.
    slowed = WORK.replace("sum(x & 7 for x in items)", "sum(x & 7 for x in items * 6)")
    project.makepyfile(work=slowed)
    result = project.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD",
        "scenarios",
        "-k",
        "linear",
        "--aide-against-rounds",
        "3",
        "--aide-explain",
        "never",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "linear[[]items=30[]]: regressed +* % * time (95 % CI *) vs HEAD (*) (same job), *",
            "linear[[]items=3000[]]: regressed +* % * time (95 % CI *) vs HEAD (*) (same job), *",
        ]
    )


def test_under_xdist_the_fit_reaches_the_controllers_reports(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--aide-perf", "-n", "2", "scenarios")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines_random(
        ["quadratic *grows as n²*order <= n*FAIL", "linear *order <= n log n*PASS"]
    )
    checks = _report(project)
    assert checks["quadratic"]["results"][0]["fit"]["best"] == "n²"
    assert checks["quadratic"]["failures"][0].startswith("quadratic: grows as n² (exponent ")


def test_a_run_in_the_history_serves_as_the_baseline_of_an_order(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.path / "scenarios" / "s.toml").write_text(
        SCENARIOS.replace('order = "n log n"', 'order = "n³"')
    )
    project.runpytest("--aide-perf", "scenarios", "-k", "linear").assert_outcomes(passed=1)
    monkeypatch.setenv("AIDE_TEST_QUADRATIC", "1")
    result = project.runpytest(
        "--aide-perf", "scenarios", "-k", "linear", "--aide-compare-run", "latest"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["linear: order grew from * to n² * since the baseline of history run #1 *"]
    )
