"""Settings from the command line, ini file, environment and profiles (no pytest import)."""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.fileio import read_text
from pytest_aide.stats import DEFAULT_DRIFT
from pytest_aide.units import UnitError, hint, parse_percent, parse_timeout
from pytest_aide.units import shown as shown_value
from pytest_aide.verdict import Threshold, ThresholdError, parse_thresholds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_CONFIRM",
    "DEFAULT_PROFILE",
    "DEFAULT_TOLERANCE",
    "MAX_COUNT",
    "CheckPatterns",
    "ProfileError",
    "ProfileOverrides",
    "Settings",
    "display_path",
    "known_profiles",
    "match_checks",
    "non_negative_int",
    "opted_out",
    "option_conflict",
    "parse_drift",
    "parse_profiles",
    "parse_tolerance",
    "positive_int",
    "pyproject_checks",
    "pyproject_profiles",
    "select_profile",
    "selects",
    "timeout_option",
]

DEFAULT_PROFILE = "default"
DEFAULT_TOLERANCE = 0.10
"""Allowed slowdown against a baseline, as a fraction."""
MAX_COUNT = 1_000_000
"""The largest count an option takes (iterations, warmup, re-measurements)."""
DEFAULT_CONFIRM = 2
"""Times a suspected wall-time failure is measured again before it fails (``--aide-confirm``)."""

ProfileOverrides = dict[str, dict[str, dict[str, Threshold]]]
"""profile name -> check name -> threshold key -> threshold."""


class ProfileError(ValueError):
    """A profile table or name that cannot be used."""


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: expected a whole number from {minimum} to {MAX_COUNT:,}"
        )
    return value


def positive_int(text: str) -> int:
    """Parse a count of at least 1 (``--aide-iterations``)."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """Parse a count of at least 0 (``--aide-warmup``)."""
    return _whole(text, 0)


def timeout_option(text: str) -> float:
    """Parse ``--aide-timeout``: ``30s``, ``2min``, or a number of seconds."""
    try:
        return parse_timeout(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _percentage(text: str, what: str) -> float:
    try:
        return parse_percent(text if text.strip().endswith("%") else float(text))
    except (UnitError, ValueError):
        raise argparse.ArgumentTypeError(
            f"invalid {what} {text!r}: expected a percentage like '10%' or 10"
        ) from None


def parse_tolerance(text: str) -> float:
    """Parse ``10%`` or ``10`` (both ten percent) into a fraction."""
    return _percentage(text, "tolerance")


def parse_drift(text: str) -> float:
    """Parse a between-run drift, ``5%`` or ``5``, into a fraction."""
    return _percentage(text, "drift")


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies below it, as messages show it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def select_profile(
    option: str | None, ini: str | None, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The profile in force and where it came from: option, ini, ``AIDE_ENV``, default."""
    for value, source in (
        (option, "--aide-profile"),
        (ini, "ini aide_profile"),
        (environ.get("AIDE_ENV"), "AIDE_ENV"),
    ):
        if value and value.strip():
            return value.strip(), source
    return DEFAULT_PROFILE, "default"


def parse_profiles(table: object, where: str, noun: str = "check") -> ProfileOverrides:
    """Validate ``[profiles.NAME.CHECK] thresholds = {...}`` tables.

    ``where`` prefixes every message, e.g. ``pyproject.toml: [tool.aide]``.
    """
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: 'profiles' must be a table of profiles")
    parsed: ProfileOverrides = {}
    for name, checks in table.items():
        if not isinstance(checks, dict):
            raise ProfileError(f"{where}: profile {name!r}: expected a table of checks")
        parsed[name] = {}
        for check, entry in checks.items():
            prefix = f"{where}: profile {name!r}: {noun} {check!r}"
            parsed[name][check] = _entry_thresholds(
                entry, prefix, f"profile {name}", "expected a table with 'thresholds'"
            )
    return parsed


def _entry_thresholds(
    entry: object, prefix: str, origin: str, not_a_table: str
) -> dict[str, Threshold]:
    """The thresholds of one ``{ thresholds = {...} }`` table; ProfileError names ``prefix``."""
    if not isinstance(entry, dict):
        raise ProfileError(f"{prefix}: {not_a_table}")
    unknown = sorted(set(entry) - {"thresholds"})
    if unknown:
        raise ProfileError(
            f"{prefix}: unknown key {unknown[0]!r} ({hint(unknown[0], ['thresholds'])})"
        )
    thresholds = entry.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ProfileError(f"{prefix}: key 'thresholds': expected a table")
    try:
        return parse_thresholds(thresholds, origin=origin)
    except ThresholdError as exc:
        raise ProfileError(f"{prefix}: {exc}") from None


def _aide_table(path: Path, shown: str) -> dict[str, Any]:
    """``[tool.aide]`` of a pyproject file (empty when the file or the table is absent)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(read_text(path))
    except OSError as exc:
        raise ProfileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{shown}: cannot read: {exc}") from None
    aide = data.get("tool", {}).get("aide", {})
    if not isinstance(aide, dict):
        raise ProfileError(f"{shown}: [tool.aide] must be a table")
    unknown = sorted(set(aide) - {"profiles", "checks"})
    if unknown:
        raise ProfileError(
            f"{shown}: [tool.aide]: unknown key {unknown[0]!r} "
            f"({hint(unknown[0], ['checks', 'profiles'])})"
        )
    return aide


def pyproject_profiles(path: Path, shown: str = "pyproject.toml") -> ProfileOverrides:
    """Profiles from ``[tool.aide.profiles]`` of a pyproject file (empty when absent)."""
    aide = _aide_table(path, shown)
    return parse_profiles(aide.get("profiles", {}), f"{shown}: [tool.aide]")


CheckPatterns = list[tuple[str, dict[str, Threshold] | None]]
"""``[tool.aide.checks]``: node-id patterns and the thresholds they attach, in file order;
None for a pattern with ``aide = false``, which leaves the tests it selects out."""


def pyproject_checks(path: Path, shown: str = "pyproject.toml") -> CheckPatterns:
    """``[tool.aide.checks."PATTERN"] thresholds = {...}``: existing tests made aide checks.

    ``aide = false`` instead leaves the selected tests out, benchmarks a suite
    declares included.
    """
    table = _aide_table(path, shown).get("checks", {})
    where = f"{shown}: [tool.aide.checks]"
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: expected a table of node-id patterns")
    patterns: CheckPatterns = []
    for pattern, entry in table.items():
        prefix = f"{where}: pattern {pattern!r}"
        example = "expected a table, e.g. { thresholds = {} }"
        included = entry.get("aide", True) if isinstance(entry, dict) else True
        if not isinstance(included, bool):
            raise ProfileError(
                f"{prefix}: key 'aide': expected true or false, got {shown_value(included)}"
            )
        if not included:
            if set(entry) - {"aide"}:
                raise ProfileError(
                    f"{prefix}: 'aide = false' leaves the tests out, so it takes no other key"
                )
            patterns.append((pattern, None))
            continue
        entry = (
            {k: v for k, v in entry.items() if k != "aide"} if isinstance(entry, dict) else entry
        )
        patterns.append((pattern, _entry_thresholds(entry, prefix, "[tool.aide.checks]", example)))
    return patterns


def selects(pattern: str, nodeid: str) -> bool:
    """Whether ``pattern`` selects ``nodeid`` as pytest's command line would.

    A node id (and its parametrized instances ``id[...]``), a node id prefix
    (``tests/test_x.py::TestClass``), a file (``tests/test_x.py``), a
    directory (``tests/perf/``), an fnmatch pattern of the node id
    (``tests/*::test_parse*``) or of the test's name (``test_parse*``), or a
    keyword: a plain word found, as ``-k`` finds it, in the name of the test,
    its class, its file or a directory above it (case-insensitive).
    """
    pattern = pattern.replace("\\", "/").removeprefix("./")
    if nodeid == pattern or nodeid.startswith((pattern + "[", pattern + "::")):
        return True
    path = nodeid.split("::", 1)[0]
    if pattern.endswith("/") or (pattern.endswith(".py") and "::" not in pattern):
        return path == pattern or path.startswith(pattern.rstrip("/") + "/")
    if fnmatch.fnmatchcase(nodeid, pattern):
        return True
    if "/" in pattern or "::" in pattern:
        return path.startswith(pattern + "/")  # a directory written without its slash
    names = [*nodeid.split("::")[1:], *path.split("/")]
    if any(c in pattern for c in "*?["):
        return any(fnmatch.fnmatchcase(name, pattern) for name in names)
    return any(pattern.lower() in name.lower() for name in names)


def match_checks(patterns: CheckPatterns, nodeid: str) -> dict[str, Threshold] | None:
    """Thresholds every matching pattern attaches (later ones win); None when none match."""
    merged: dict[str, Threshold] | None = None
    for pattern, thresholds in patterns:
        if thresholds is not None and selects(pattern, nodeid):
            merged = {**(merged or {}), **thresholds}
    return merged


def opted_out(patterns: CheckPatterns, nodeid: str) -> bool:
    """Whether a pattern with ``aide = false`` selects ``nodeid``."""
    return any(t is None and selects(pattern, nodeid) for pattern, t in patterns)


def known_profiles(scenario_files: Iterable[Path], pyproject: ProfileOverrides) -> set[str]:
    """Profile names defined anywhere: ``default``, pyproject, and every scenario file."""
    names = {DEFAULT_PROFILE, *pyproject}
    for path in scenario_files:
        try:
            data = tomllib.loads(read_text(path))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # reported by collection, on that file's own item
        profiles = data.get("profiles")
        if isinstance(profiles, dict):
            names.update(str(name) for name in profiles)
    return names


@dataclass(frozen=True)
class Settings:
    """The options in force for this session."""

    perf: bool = False
    """``--aide-perf``: measure fully and enforce limits; otherwise smoke-run once."""
    iterations: int | None = None
    """``--aide-iterations``: overrides every check's iteration count."""
    warmup: int | None = None
    """``--aide-warmup``: overrides every check's warmup count."""
    scenario_dirs: tuple[str, ...] = ("scenarios",)
    """Directories, relative to the rootdir, whose TOML files are scenario files."""
    profile: str = DEFAULT_PROFILE
    """Threshold profile in force."""
    profile_source: str = "default"
    """Where the profile name came from (``--aide-profile``, ``AIDE_ENV``, ...)."""
    baseline_dir: Path = Path("baselines")
    save_baseline: bool = False
    compare: bool = True
    only: bool = False
    """``--aide-only``: deselect every test that is not a performance check."""
    skip: bool = False
    """``--aide-skip``: deselect every performance check."""
    tolerance: float = DEFAULT_TOLERANCE
    drift: float = DEFAULT_DRIFT
    """``--aide-drift``: between-run drift that stored comparisons allow for."""
    any_machine: bool = False
    report_dir: Path = Path(".aide")
    asv: Path | None = None
    """``--aide-asv``: an asv suite's configuration file (else the rootdir's, if any)."""
    against: str | None = None
    """``--aide-against``: git revision to measure beside this tree, in the same job."""
    against_time: bool = False
    """``--aide-against-time``: pair the time of counted checks too, as information."""
    against_rounds: int = 10
    """``--aide-against-rounds``: fresh worker pairs per paired check, at least."""
    compare_run: str | None = None
    """``--aide-compare-run``: a history run (number, ``latest``, commit) to gate against."""
    keep_traces: bool = False
    """``--aide-keep-traces``: keep memray trace files and list them in the report."""
    loop: str = "asyncio"
    """``--aide-loop``: event loop for async timing, async load and async tests."""
    history: Path | None = None
    """``--aide-history``: the SQLite history; None means ``<report dir>/history.sqlite``."""
    history_keep_samples: int = 20
    """``--aide-history-keep-samples``: newest runs that keep every sample in the history."""
    benchmark_json: Path | None = None
    """``--aide-benchmark-json``: also write timings in pytest-benchmark's JSON format."""
    timeout: float | None = None
    """``--aide-timeout``: seconds a check may run unless it sets its own ``timeout``."""
    measure: str | None = None
    """``--aide-measure``: what checks measure unless they say; None: solo time where the
    kernel reports run-queue waits, else wall time."""
    valgrind: str = "valgrind"
    """``--aide-valgrind``: the valgrind command or path that counts."""
    locust_master_bind: tuple[str, int] | None = None
    """``--aide-locust-master-bind``: Locust's master waits there for remote workers."""
    shard: tuple[int, int] | None = None
    """``--aide-shard K/N``: this session runs shard K of N (1-based)."""
    count_cache: str | None = None
    """``--aide-count-cache``: where REV's counts are kept (None: the user's cache; ``none``)."""
    confirm: int = DEFAULT_CONFIRM
    """``--aide-confirm``: times a suspected wall-time failure is measured again."""
    explain: str = "fail"
    """``--aide-explain``: profile checks that fail (``fail``), every check, or none."""
    uncompared: str = "fail"
    """``--aide-uncompared``: an asked-for comparison not made fails (``fail``) or warns."""

    @property
    def history_file(self) -> Path:
        """The history this session reads and appends to: ``--aide-history`` or the default."""
        return self.history or self.report_dir / "history.sqlite"


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def option_conflict(settings: Settings) -> str | None:
    """Why the options in force contradict each other, or None when they do not."""
    if settings.only and settings.skip:
        return "--aide-only runs only the performance checks; --aide-skip deselects them"
    if settings.benchmark_json is not None and not _importable("pytest_benchmark"):
        return (
            "--aide-benchmark-json writes pytest-benchmark's format with its statistics: "
            "install pytest-benchmark (pip install 'pytest-aide[benchmark]')"
        )
    if settings.compare_run is not None and settings.against is not None:
        return (
            f"--aide-compare-run {settings.compare_run} gates against a stored run; "
            f"--aide-against {settings.against} measures a revision in the same job: pick one"
        )
    if settings.compare_run is not None and not settings.compare:
        return (
            f"--aide-compare-run {settings.compare_run} is a comparison; it cannot be "
            "combined with --aide-no-compare"
        )
    if settings.against is None:
        return None
    if not settings.compare:
        return (
            f"--aide-against {settings.against} compares this tree with {settings.against}; "
            "it cannot be combined with --aide-no-compare"
        )
    if settings.any_machine:
        return (
            f"--aide-against {settings.against} measures both trees on this machine; "
            "--aide-compare-any-machine (for stored baselines) cannot be combined with it"
        )
    return None
