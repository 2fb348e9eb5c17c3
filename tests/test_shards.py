"""--aide-shard K/N and pytest-aide merge: a suite split across jobs gives one verdict."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from pytest_aide.cli import main
from pytest_aide.shards import ShardError, assign, merge, parse_shard

SUITE = """\
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.parametrize("n", [10, 100, 1000, 2000, 4000])
@pytest.mark.aide(mean="10s")
def test_fast(aide_timer, n):
    aide_timer(work, n)

@pytest.mark.aide(mean="1ns")
def test_broken_limit(aide_timer):
    aide_timer(work, 100)

def test_plain():
    assert work(3) == 5
"""

IDS = [f"tests/test_{i}.py::test_{j}" for i in range(20) for j in range(5)]


def test_shard_option_reads_k_of_n() -> None:
    assert parse_shard("2/3") == (2, 3)
    assert parse_shard(" 1/1 ") == (1, 1)
    for bad in ("3", "0/3", "4/3", "a/b", "1/0", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shard(bad)


def test_without_durations_a_tests_shard_follows_from_its_id_alone() -> None:
    shards = assign(IDS, 3, {})
    assert set(shards.values()) == {1, 2, 3}
    grown = assign([*IDS, "tests/test_new.py::test_new"], 3, {})
    assert all(grown[nodeid] == shard for nodeid, shard in shards.items())
    assert assign(list(reversed(IDS)), 3, {}) == shards


def test_with_durations_the_shards_end_together() -> None:
    durations = {nodeid: float(1 + i % 7) for i, nodeid in enumerate(IDS)}
    shards = assign(IDS, 4, durations)
    loads = [sum(durations[n] for n in IDS if shards[n] == k) for k in range(1, 5)]
    assert max(loads) - min(loads) <= 7  # at most one test's worth apart
    durations[IDS[0]] = 300.0  # longer than a fair share: alone, and the rest share the others
    shards = assign(IDS, 4, durations)
    assert [n for n in IDS if shards[n] == shards[IDS[0]]] == [IDS[0]]
    loads = [sum(durations[n] for n in IDS if shards[n] == k) for k in range(1, 5)]
    loads.remove(300.0)
    assert max(loads) - min(loads) <= 7
    assert assign(list(reversed(IDS)), 4, durations) == shards
    # A test the history has not seen counts as the median of those it has.
    newcomer = assign([*IDS, "tests/test_new.py::test_new"], 4, durations)
    assert set(newcomer.values()) == {1, 2, 4, 3}


def _report(index: int, count: int, checks: list[str], **changed: object) -> dict:
    report = {
        "kind": "pytest-aide-report",
        "schema": 1,
        "commit": "a" * 40,
        "measure": "default",
        "profile": "default",
        "slug": "linux-x86_64-2cores",
        "shard": {"index": index, "count": count},
        "checks": [
            {"id": c, "name": c, "status": "PASS", "outcome": "passed", "results": []}
            | {"thresholds": {}, "failures": [], "notes": [], "comparisons": [], "judged": False}
            for c in checks
        ],
    }
    report.update(changed)
    return report


def test_merge_refuses_what_is_not_one_run() -> None:
    one, two = _report(1, 2, ["t::a"]), _report(2, 2, ["t::b"])
    assert [c["id"] for c in merge([("s2", two), ("s1", one)])["checks"]] == ["t::a", "t::b"]
    cases = {
        "s2: not a shard's report (run pytest with --aide-shard K/N)": [
            ("s1", one),
            ("s2", {**two, "shard": None}),
        ],
        "shard 2/2 missing: a merge of part of a suite would pass the checks it never ran": [
            ("s1", one)
        ],
        "shard 1/2 given twice: s1 and again": [("s1", one), ("again", one), ("s2", two)],
        "shards of different splits: s1 is 1/2, s3 is 3/3": [
            ("s1", one),
            ("s3", _report(3, 3, ["t::c"])),
        ],
        "shards of different commits: s1 has 'aaaa', s2 has 'bbbb'": [
            ("s1", {**one, "commit": "aaaa"}),
            ("s2", {**two, "commit": "bbbb"}),
        ],
        "shards of different measures: s1 has 'default', s2 has 'instructions'": [
            ("s1", one),
            ("s2", {**two, "measure": "instructions"}),
        ],
        "shards of different machine types: s1 has 'linux-x86_64-2cores', s2 has 'other'": [
            ("s1", one),
            ("s2", {**two, "slug": "other"}),
        ],
        "t::a is in two shards: s1 and s2": [("s1", one), ("s2", _report(2, 2, ["t::a"]))],
    }
    for line, reports in cases.items():
        with pytest.raises(ShardError) as raised:
            merge(reports)
        assert str(raised.value) == line


def _git(where: Path, *args: str) -> None:
    who = ["-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run(["git", *who, *args], cwd=where, check=True, capture_output=True)


def _checks(path: Path) -> list[tuple[str, str]]:
    report = json.loads(path.read_text())
    return sorted((check["id"], check["status"]) for check in report["checks"])


def test_a_suite_split_three_ways_and_merged_is_one_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(test_suite=SUITE)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        _git(pytester.path, *args)
    history = f"--aide-history={pytester.path / 'history.sqlite'}"
    common = ["--aide-perf", "-p", "no:randomly", "--aide-confirm", "0", history]
    whole = pytester.runpytest(*common, "--aide-report-dir=whole")
    whole.assert_outcomes(passed=6, failed=1)
    runs = json.loads((pytester.path / "whole" / "report.json").read_text())
    assert all(check["seconds"] > 0 for check in runs["checks"])
    ran: list[str] = []
    for k in (1, 2, 3):
        shard = pytester.runpytest(*common, f"--aide-shard={k}/3", f"--aide-report-dir=s{k}")
        shard.stdout.fnmatch_lines([f"shard {k}/3: * of 7 test(s), balanced on their durations*"])
        ran += [
            c["id"] for c in json.loads((pytester.path / f"s{k}/report.json").read_text())["checks"]
        ]
    assert sorted(ran) == sorted(c["id"] for c in runs["checks"])  # each check once
    capsys.readouterr()
    code = main(
        [
            "merge",
            *(str(pytester.path / f"s{k}") for k in (1, 2, 3)),
            "--output",
            str(pytester.path / "merged"),
            "--history",
            str(pytester.path / "merged.sqlite"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out  # as the whole run: test_broken_limit fails
    assert "merged 3 shards of " in out and "6 checks, 5 passed, 1 failed" in out
    assert "test_broken_limit: mean " in out
    assert _checks(pytester.path / "merged" / "report.json") == _checks(
        pytester.path / "whole" / "report.json"
    )
    assert {p.name for p in (pytester.path / "merged").iterdir()} >= {
        "report.json",
        "report.md",
        "report.html",
    }
    # Shards leave the history alone; the merge appends the whole run.
    assert main(["history", "--path", str(pytester.path / "merged.sqlite")]) == 0
    listed = capsys.readouterr().out
    assert len([line for line in listed.splitlines() if line.strip().startswith("1 ")]) == 1


def test_a_shard_of_a_suite_under_against_pairs_only_its_own(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(test_suite=SUITE)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        _git(pytester.path, *args)
    args = ["--aide-perf", "--aide-against", "HEAD", "--aide-against-rounds", "3"]
    shard = pytester.runpytest(
        *args,
        "-p",
        "no:randomly",
        "--aide-confirm",
        "0",
        "--aide-explain",
        "never",
        "-k",
        "test_fast",
        "--aide-shard",
        "2/2",
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    mine = [c["id"] for c in report["checks"]]
    assert 0 < len(mine) < 5
    shard.stdout.fnmatch_lines([f"same-job pairing: {len(mine)} check(s) run in both trees*"])
    assert report["shard"]["index"] == 2 and report["against"]["paired_checks"] == len(mine)


@pytest.mark.parametrize("given", ["4/3", "two"])
def test_a_bad_shard_is_one_line(pytester: pytest.Pytester, given: str) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--aide-perf", f"--aide-shard={given}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--aide-shard*{given}*"])
    assert "Traceback" not in result.stderr.str()


def test_a_shard_counts_only_its_own_checks(pytester: pytest.Pytester) -> None:
    from pytest_aide.measure.counts import CountError, find_valgrind

    try:
        find_valgrind()
    except CountError as exc:
        pytest.skip(str(exc))
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(test_suite=SUITE)
    shard = pytester.runpytest(
        "--aide-perf", "--aide-measure", "instructions", "-k", "test_fast", "--aide-shard", "1/2"
    )
    shard.assert_outcomes(passed=len(_checks(pytester.path / ".aide" / "report.json")))
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    assert 0 < len(report["checks"]) < 5 and report["measure"] == "instructions"
    for check in report["checks"]:
        assert [r["kind"] for r in check["results"]].count("count") == 1, check["id"]


def test_a_shard_compares_its_checks_with_their_stored_baselines(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--aide-perf", "-k", "test_fast", "--aide-save-baseline").assert_outcomes(
        passed=5
    )
    pytester.runpytest(
        "--aide-perf", "-k", "test_fast", "--aide-shard", "1/2", "--aide-confirm", "0"
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    assert 0 < len(report["checks"]) < 5
    for check in report["checks"]:
        stored = [c for c in check["comparisons"] if not c.get("against")]
        assert stored, check["id"]  # compared with its own stored baseline
