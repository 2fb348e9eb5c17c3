"""Every option, declared once: its flag, its ini twin, its help and the setting it fills.

The table drives pytest's ``addoption``/``addini``, :class:`~pytest_aide.config.Settings`
and the flags ``pytest-aide compare`` shares with the plugin. Knows nothing of pytest:
the caller passes argparse-like ``addoption``/``addini`` and ``option``/``ini`` readers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.config import (
    DEFAULT_CONFIRM,
    DEFAULT_TOLERANCE,
    Settings,
    non_negative_int,
    parse_drift,
    parse_tolerance,
    positive_int,
    select_profile,
    timeout_option,
)
from pytest_aide.fileio import absolute
from pytest_aide.measure.counts import MEASURES
from pytest_aide.measure.timer import LOOPS
from pytest_aide.shards import parse_shard
from pytest_aide.stats import DEFAULT_DRIFT

__all__ = ["OPTIONS", "SCENARIO_DIRS_INI", "Option", "OptionError", "add_options", "read_settings"]

SCENARIO_DIRS_INI = "aide_scenarios"
"""The one ini-only setting: directories whose ``*.toml`` files are scenario files."""


class OptionError(ValueError):
    """An ini value that does not parse; the message names the ini option."""


def _loop_name(text: str) -> str:
    if text not in LOOPS:
        raise argparse.ArgumentTypeError(
            f"invalid event loop {text!r} (choose from {', '.join(LOOPS)})"
        )
    return text


UNCOMPARED_CHOICES = ("fail", "warn")
"""What ``--aide-uncompared`` makes of a comparison that was asked for and not made."""


def _uncompared(text: str) -> str:
    if text not in UNCOMPARED_CHOICES:
        raise argparse.ArgumentTypeError(
            f"invalid choice {text!r} (choose from {', '.join(UNCOMPARED_CHOICES)})"
        )
    return text


EXPLAIN_CHOICES = ("fail", "always", "never")
"""When ``--aide-explain`` profiles a check."""


def _explain_when(text: str) -> str:
    if text not in EXPLAIN_CHOICES:
        raise argparse.ArgumentTypeError(
            f"invalid choice {text!r} (choose from {', '.join(EXPLAIN_CHOICES)})"
        )
    return text


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); argparse's type for ``--aide-locust-master-bind``."""
    host, colon, port = text.strip().rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 0.0.0.0:5557, got {text!r}")
    return host, int(port)


def _measure_name(text: str) -> str:
    if text not in MEASURES:
        raise argparse.ArgumentTypeError(
            f"invalid measure {text!r} (choose from {', '.join(MEASURES)})"
        )
    return text


@dataclass(frozen=True)
class Option:
    """One ``--aide-NAME`` option and its ini twin ``aide_NAME``."""

    name: str
    """The name after ``--aide-`` (``pytest-aide compare`` uses ``--NAME``)."""
    help: str
    setting: str
    """The :class:`Settings` field it fills."""
    kind: str = "value"
    """``flag`` (store_true), ``value`` (parsed by ``parse``), ``dir`` or ``path``
    (relative to the rootdir; a ``dir`` has a default, a ``path`` may be absent)."""
    parse: Callable[[str], Any] = str
    metavar: str | None = None
    default: Any = None
    """The setting when neither the option nor the ini value is given."""
    choices: tuple[str, ...] | None = None
    compare: bool = False
    """Also a flag of ``pytest-aide compare``."""
    negate: bool = False
    """The setting is the flag's opposite (``--aide-no-compare`` fills ``compare``)."""

    @property
    def dest(self) -> str:
        """argparse's destination and the ini name: ``aide_save_baseline``."""
        return "aide_" + self.name.replace("-", "_")

    def declare(self, addoption: Callable[..., Any], flag: str, ini_note: bool) -> None:
        """Declare the flag through an argparse-like ``addoption``."""
        text = f"{self.help}. ini: {self.dest}" if ini_note else self.help
        extra: dict[str, Any] = {"help": text.replace("%", "%%"), "default": None}
        if self.kind == "flag":
            extra["action"] = "store_true"
        else:
            extra["metavar"] = self.metavar
            if self.choices:
                extra["choices"] = self.choices
            elif self.parse is not str:
                extra["type"] = self.parse
        addoption(flag, **extra)


OPTIONS: tuple[Option, ...] = (
    Option(
        "perf",
        "measure fully, enforce thresholds and print the aide summary "
        "(without it each measured callable runs once)",
        "perf",
        kind="flag",
    ),
    Option(
        "iterations",
        "samples per measurement, overriding every test and scenario",
        "iterations",
        parse=positive_int,
        metavar="N",
    ),
    Option(
        "warmup",
        "warmup samples per measurement, overriding every test and scenario",
        "warmup",
        parse=non_negative_int,
        metavar="N",
    ),
    Option(
        "profile",
        "threshold profile (else ini aide_profile, else $AIDE_ENV, else 'default')",
        "profile",
        metavar="NAME",
    ),
    Option(
        "baseline-dir",
        "where baselines live, relative to the rootdir (default: baselines)",
        "baseline_dir",
        kind="dir",
        metavar="DIR",
        default="baselines",
    ),
    Option(
        "save-baseline",
        "write this run's results as the new baselines (atomically); thresholds still "
        "apply, the baseline comparison does not gate this run",
        "save_baseline",
        kind="flag",
    ),
    Option("no-compare", "skip the baseline comparison", "compare", kind="flag", negate=True),
    Option(
        "only",
        "run only the performance checks (scenario items, aide-marked tests, tests using an "
        "aide fixture or pytest-benchmark's benchmark); deselect the rest",
        "only",
        kind="flag",
    ),
    Option(
        "skip",
        "deselect the performance checks (as --aide-only picks them); run the rest",
        "skip",
        kind="flag",
    ),
    Option(
        "tolerance",
        "allowed slowdown vs baseline before a significant change is a regression, "
        "e.g. 10% (default 10%)",
        "tolerance",
        parse=parse_tolerance,
        metavar="PCT",
        default=DEFAULT_TOLERANCE,
        compare=True,
    ),
    Option(
        "drift",
        "how far one run's median strays from another's on unchanged code on this "
        "machine (one standard deviation); comparisons with stored results widen their "
        "interval by it (default 5%)",
        "drift",
        parse=parse_drift,
        metavar="PCT",
        default=DEFAULT_DRIFT,
        compare=True,
    ),
    Option(
        "compare-any-machine",
        "gate even on a baseline recorded on another machine",
        "any_machine",
        kind="flag",
    ),
    Option(
        "report-dir",
        "where reports are written, relative to the rootdir (default: .aide)",
        "report_dir",
        kind="dir",
        metavar="DIR",
        default=".aide",
    ),
    Option(
        "against",
        "measure git revision REV beside this tree in the same job, interleaved, and gate "
        "on the paired difference instead of stored baselines",
        "against",
        metavar="REV",
    ),
    Option(
        "against-time",
        "under --aide-against, also pair the wall-time figures of checks gated on a count "
        "(instructions, cycles), which otherwise count both trees and stop",
        "against_time",
        kind="flag",
    ),
    Option(
        "against-rounds",
        "under --aide-against, the fresh pairs of worker sessions each paired check runs in "
        "at least (up to twice as many while its interval is wider than it needs); fewer "
        "finish sooner with a wider interval (default: 10)",
        "against_rounds",
        parse=positive_int,
        metavar="N",
        default=10,
    ),
    Option(
        "compare-run",
        "gate against a run stored in the history (its number, latest, or a commit) "
        "instead of the baseline files",
        "compare_run",
        metavar="N|latest|COMMIT",
    ),
    Option(
        "keep-traces",
        "keep memray trace files (under the report dir's traces/) and list them in the "
        "report, for `memray flamegraph`",
        "keep_traces",
        kind="flag",
    ),
    Option(
        "loop",
        "event loop for async timing, async load and (through pytest-asyncio) async "
        "tests: asyncio or uvloop (default: asyncio)",
        "loop",
        parse=_loop_name,
        choices=LOOPS,
        default="asyncio",
    ),
    Option(
        "history",
        "SQLite file that every --aide-perf run is appended to, for trends "
        "(default: <report dir>/history.sqlite)",
        "history",
        kind="path",
        metavar="PATH",
    ),
    Option(
        "history-keep-samples",
        "the newest runs whose results keep every sample in the history; older runs keep "
        "their statistics and 16 samples, under a kilobyte per check (default: 20)",
        "history_keep_samples",
        parse=non_negative_int,
        metavar="N",
        default=20,
    ),
    Option(
        "asv",
        "an asv suite's asv.conf.json, whose benchmarks become checks under --aide-perf "
        "(default: asv.conf.json in the rootdir, when there is one)",
        "asv",
        kind="path",
        metavar="PATH",
    ),
    Option(
        "benchmark-json",
        "also write this run's timings in pytest-benchmark's JSON format (for its "
        "compare command, dashboards and github-action-benchmark)",
        "benchmark_json",
        kind="path",
        metavar="PATH",
    ),
    Option(
        "measure",
        "what the gate measures: solo (wall time minus the measuring thread's run-queue "
        "wait: what the neighbours took is left out), wall or time (the wall clock), "
        "cpu (the thread's CPU time), instructions (valgrind's count per call) or cycles "
        "(estimated from valgrind's cache simulation); a check's marker keyword or scenario "
        "key measure= overrides it (default: solo where the kernel reports run-queue "
        "waits, else wall)",
        "measure",
        parse=_measure_name,
        metavar="{" + ",".join(MEASURES) + "}",
    ),
    Option(
        "valgrind",
        "the valgrind that counts instructions: a command or a path (default: valgrind)",
        "valgrind",
        metavar="PATH",
        default="valgrind",
    ),
    Option(
        "shard",
        "run the K-th of N shares of the collected tests, balanced on their durations in "
        "the history (else split by node id); each shard writes its own report, and "
        "pytest-aide merge joins them into one verdict",
        "shard",
        parse=parse_shard,
        metavar="K/N",
    ),
    Option(
        "locust-master-bind",
        "HTTP checks with load engine locust: the master listens on HOST:PORT for that "
        "many remote workers (started as locust --worker -f - --master-host HOST "
        "--master-port PORT) instead of starting local ones",
        "locust_master_bind",
        parse=host_port,
        metavar="HOST:PORT",
    ),
    Option(
        "count-cache",
        "where a commit's instruction counts are kept between sessions, so that "
        "--aide-against REV and bisect count REV once; none keeps none "
        "(default: $XDG_CACHE_HOME/pytest-aide/counts or ~/.cache/pytest-aide/counts)",
        "count_cache",
        metavar="DIR|none",
    ),
    Option(
        "confirm",
        "before a wall-time check fails (a time limit broken, or slower than its stored "
        "baseline), measure it again up to N more times, with exponential backoff and "
        "jitter, and fail only if every attempt breaks the same limit; a stored baseline "
        "whose commit is in this repository is measured beside this tree in the same job "
        "instead; a check's retry= table overrides it; 0 turns it off "
        f"(default: {DEFAULT_CONFIRM})",
        "confirm",
        parse=non_negative_int,
        metavar="N",
        default=DEFAULT_CONFIRM,
    ),
    Option(
        "explain",
        "profile a check to explain it: 'fail' profiles checks that fail or regress (one "
        "more profiled run after the verdict, the top functions in the failure text and a "
        "callgrind and pstats file in the report directory), 'always' every check (and "
        "keeps the profile in a saved baseline, for a differential profile later), 'never' "
        "none (default: fail)",
        "explain",
        parse=_explain_when,
        choices=EXPLAIN_CHOICES,
        metavar="{fail,always,never}",
        default="fail",
    ),
    Option(
        "uncompared",
        "a comparison the run was asked to make and could not (--aide-against, "
        "--aide-compare-run, a same-job confirmation or a count whose worker crashed, "
        "refused or did not start): 'fail' makes the check NOT COMPARED and fails the run, "
        "'warn' shows it as NOT COMPARED and passes (default: fail)",
        "uncompared",
        parse=_uncompared,
        choices=UNCOMPARED_CHOICES,
        metavar="{fail,warn}",
        default="fail",
    ),
    Option(
        "timeout",
        "stop and fail any aide check still running after this long, unless it sets its "
        "own timeout (marker keyword or scenario key), e.g. 5min (default: no limit)",
        "timeout",
        parse=timeout_option,
        metavar="DURATION",
    ),
)


def add_options(
    addoption: Callable[..., Any],
    addini: Callable[..., Any] | None = None,
    *,
    compare_only: bool = False,
) -> None:
    """Declare the options: ``--aide-NAME`` with ini twins, or ``pytest-aide compare``'s.

    With ``compare_only`` the shared options are declared as ``--NAME`` (no ini).
    """
    for option in OPTIONS:
        if compare_only:
            if option.compare:
                option.declare(addoption, f"--{option.name}", ini_note=False)
            continue
        option.declare(addoption, f"--aide-{option.name}", ini_note=True)
        if addini is not None:
            flag = option.kind == "flag"
            addini(
                option.dest,
                type="bool" if flag else "string",
                default=False if flag else "",
                help=option.help,
            )
    if addini is not None and not compare_only:
        addini(
            SCENARIO_DIRS_INI,
            type="linelist",
            default=["scenarios"],
            help="directories (relative to the rootdir) whose *.toml files are aide scenario files",
        )


def _value(option: Option, given: Any, ini: Any) -> Any:
    """The option's value if given, else its parsed ini value, else None."""
    if given is not None:
        return given
    if ini in ("", None) or isinstance(ini, bool):
        return ini or None
    try:
        return option.parse(ini)
    except argparse.ArgumentTypeError as exc:
        raise OptionError(f"ini option {option.dest!r}: {exc}") from None


def read_settings(
    option: Callable[[str], Any],
    ini: Callable[[str], Any],
    rootdir: Path,
    environ: Mapping[str, str],
) -> Settings:
    """The settings in force, from ``option(dest)`` and ``ini(dest)`` readers.

    A flag is on when given or set in the ini file; a value from the command
    line wins over the ini file; directories and paths are relative to ``rootdir``.
    Raises :class:`OptionError` for an ini value that does not parse.
    """
    values: dict[str, Any] = {}
    for spec in OPTIONS:
        if spec.name == "profile":
            continue
        value = _value(spec, option(spec.dest), ini(spec.dest))
        if spec.kind == "flag":
            value = bool(value) != spec.negate
        elif spec.kind in ("dir", "path"):
            text = value or spec.default
            value = absolute(rootdir / Path(text).expanduser()) if text else None
        elif value is None:
            value = spec.default
        values[spec.setting] = value
    profile, source = select_profile(option("aide_profile"), ini("aide_profile") or None, environ)
    return Settings(
        **values,
        profile=profile,
        profile_source=source,
        scenario_dirs=tuple(ini(SCENARIO_DIRS_INI)),
    )
