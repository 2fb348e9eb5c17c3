"""aide_memory (memray) and aide_cpu (psutil from a helper process), through pytester."""

from __future__ import annotations

import json

import pytest

from pytest_aide.results import CpuResult, MemoryResult
from pytest_aide.verdict import judge, parse_thresholds

MIB = 1024 * 1024


def test_a_50_mb_buffer_peaks_at_50_mb(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_buffer(aide_memory):
    with aide_memory() as mem:
        buffer = bytearray(50 * 1024 * 1024)
        del buffer
    assert abs(mem.peak_bytes - 50 * 1024 * 1024) <= 0.10 * 50 * 1024 * 1024, mem.peak_bytes
    assert mem.leaked_bytes < 1024 * 1024
    assert mem.allocations >= 1
    assert mem.top_sites[0]["bytes"] >= 50 * 1024 * 1024
    assert mem.top_sites[0]["file"].endswith("test_a_50_mb_buffer_peaks_at_50_mb.py")
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_a_growing_global_list_is_leaked_and_threads_count(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import threading

GROWING = []

def test_leak(aide_memory):
    with aide_memory() as mem:
        GROWING.append(bytearray(6 * 1024 * 1024))
        worker = threading.Thread(target=lambda: GROWING.append(bytearray(4 * 1024 * 1024)))
        worker.start()
        worker.join()
    assert mem.leaked_bytes >= 10 * 1024 * 1024, mem.leaked_bytes
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_memory_limits_fail_with_one_line_each(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

KEEP = []

@pytest.mark.aide(memory_peak_max="10MB", leaked_max="1MiB")
def test_heavy(aide_memory):
    with aide_memory():
        KEEP.append(bytearray(20 * 1024 * 1024))
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_heavy: memory_peak 2*.* MB > 10.00 MB",
            "test_heavy: leaked 20.* MiB > 1.00 MiB",
            "test_heavy: peak 20.* MiB, leaked 20.* MiB, * (memray: pymalloc as 1 MiB arenas)",
        ]
    )


def test_python_allocators_mode_is_named_and_counts_every_allocation(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
def test_mode(aide_memory):
    with aide_memory(python_allocators=True) as mem:
        data = [str(i) for i in range(50000)]
    assert mem.result.mode == "memray: every Python allocation"
    assert mem.peak_bytes > 1024 * 1024
    assert mem.allocations >= 50000, mem.allocations
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_figures_are_not_ready_inside_the_block(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

def test_early(aide_memory):
    with aide_memory() as mem:
        with pytest.raises(RuntimeError, match="known only after the with block"):
            mem.peak_bytes
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_under_pytest_memray_the_conflict_is_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_traced(aide_memory):
    with aide_memory():
        bytearray(1024)

def test_plain():
    pass
"""
    )
    result = pytester.runpytest_subprocess("--memray", "--aide-perf")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "aide_memory: another memray Tracker is already active in this process "
            "(pytest-memray's --memray?), and memray allows only one: run aide's memory "
            "checks without --memray, or deselect them with -k when using --memray"
        ]
    )


def test_without_memray_memory_checks_are_skipped(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import sys\nsys.modules['memray'] = None  # memray not importable\n")
    pytester.makepyfile(
        """
def test_traced(aide_memory):
    with aide_memory():
        bytearray(1024)
"""
    )
    result = pytester.runpytest_subprocess("--aide-perf", "-rs", "-p", "no:memray")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*aide_memory: memray cannot be imported (*); memory checks are skipped"]
    )


def test_keep_traces_lists_the_files(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_kept(aide_memory):
    with aide_memory():
        bytearray(2 * 1024 * 1024)
"""
    )
    pytester.runpytest("--aide-perf", "--aide-keep-traces").assert_outcomes(passed=1)
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    (memory,) = report["checks"][0]["results"]
    assert memory["kind"] == "memory"
    assert (pytester.path / memory["trace_path"]).is_file()
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)
    again = json.loads((pytester.path / ".aide" / "report.json").read_text())
    assert again["checks"][0]["results"][0]["trace_path"] is None


def test_a_busy_loop_reads_the_cpu_it_got_and_a_sleep_near_zero(
    pytester: pytest.Pytester,
) -> None:
    # A busy loop gets a whole core on an idle machine and a share of one on a busy
    # machine: the sampler must read what the process really got (its CPU time over
    # the wall time), whatever that is today. A sleeping process gets nothing.
    pytester.makepyfile(
        """
import time

def test_busy(aide_cpu):
    with aide_cpu(interval=0.02) as cpu:
        wall, used = time.perf_counter(), time.process_time()
        end = wall + 0.6
        while time.perf_counter() < end:
            sum(range(1000))
        got = 100 * (time.process_time() - used) / (time.perf_counter() - wall)
    assert abs(cpu.mean_percent - got) < 25, (got, cpu.samples)
    assert cpu.achieved_interval >= 0.01
    assert len(cpu.samples) >= 3
    assert cpu.rss_peak_bytes > 1024 * 1024

def test_sleep(aide_cpu):
    with aide_cpu(interval=0.02) as cpu:
        time.sleep(0.5)
    assert cpu.mean_percent < 20, cpu.samples
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_cpu_limit_fails_with_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest, time

@pytest.mark.aide(cpu_percent_max=5)
def test_busy(aide_cpu):
    with aide_cpu():
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:
            pass
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_busy: cpu_percent * % > 5.0 %"])


def test_scenario_with_timing_memory_and_cpu(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        aide_mem_mod="""
KEEP = []

def analyse():
    KEEP.append(bytearray(3 * 1024 * 1024))
    return sum(i * i for i in range(20000))
"""
    )
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(
        """
[scenarios.memory_analysis]
target = "aide_mem_mod:analyse"
iterations = 5
memory = true
cpu = { interval = "20ms" }
thresholds = { mean = "1h", memory_peak_max = "1GB", leaked_max = "1MB", cpu_percent_max = 1000 }
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "memory_analysis: leaked 3.* MB > 1.00 MB",
            "memory_analysis: peak 3.* MiB, leaked 3.* MiB, *",
            "memory_analysis: cpu mean *%, max *%, system *%, rss peak * (* samples every *)",
        ]
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "memory = 3",
            "key 'memory': expected true, false or a table of python_allocators, native",
        ),
        ("memory = { python_alocators = true }", "key 'memory': unknown option 'python_alocators'"),
        ("cpu = { interval = 'fast' }", "key 'cpu': interval: invalid duration 'fast'"),
        ("cpu = { interval = 0 }", "key 'cpu': interval must be more than 0"),
    ],
)
def test_bad_memory_and_cpu_options(pytester: pytest.Pytester, line: str, message: str) -> None:
    pytester.makepyfile(aide_mem_mod="def f():\n    pass\n")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(
        f'[scenarios.x]\ntarget = "aide_mem_mod:f"\n{line}\n'
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"scenarios/s.toml: scenario 'x': {message}*"])


def test_verdict_for_memory_and_cpu_keys_without_memray() -> None:
    memory = MemoryResult("m", peak_bytes=60 * MIB, allocations=3, leaked_bytes=2 * MIB)
    cpu = CpuResult("c", samples=[90.0, 100.0])
    limits = parse_thresholds(
        {"memory_peak_max": "64MiB", "leaked_max": "1MiB", "cpu_percent_max": 80}
    )
    assert judge("x", [memory, cpu], limits).lines() == [
        "m: leaked 2.00 MiB > 1.00 MiB",
        "c: cpu_percent 95.0 % > 80.0 %",
    ]
    assert judge("x", [memory], parse_thresholds({"cpu_percent_max": 80})).problems == [
        "x: threshold 'cpu_percent_max' is set but nothing measured 'cpu_percent'"
    ]
    assert MemoryResult.from_dict(memory.to_dict()) == memory
    assert CpuResult.from_dict(cpu.to_dict()) == cpu


def test_system_snapshots_are_stored_and_shown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_t(aide_timer):\n    aide_timer(sum, range(10))\n")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "system at start: other processes' cpu *%, memory *%, disk *%, load * on * cpus",
            "system at end: other processes' cpu *%, *",
        ]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    for moment in ("start", "end"):
        snapshot = report["system"][moment]
        assert set(snapshot) == {
            "cpu_percent",
            "memory_percent",
            "disk_percent",
            "load_1min",
            "cpus",
        }
        assert 0 <= snapshot["cpu_percent"] <= 100 and 0 < snapshot["memory_percent"] <= 100


def test_busy_machine_warning_rule() -> None:
    from pytest_aide.measure.system import busy_warning

    assert busy_warning({"cpu_percent": 20.0}) is None
    assert busy_warning({}) is None
    assert busy_warning({"cpu_percent": 75.0}) == (
        "the machine was already busy before measuring (other processes used 75% of the "
        "CPUs > 50%): timings may be slower than usual"
    )
