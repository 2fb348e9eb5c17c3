"""Baseline storage: one JSON file per check and machine, written atomically.

Layout: ``<baseline dir>/<machine slug>/<node id path>.json``, e.g.
``baselines/linux-x86_64-2cpu-cpython3.11-1a2b3c4d/scenarios/aide.toml/system_diagnosis.json``.
Several machines' baselines live side by side; each file also records its
own id, so a file moved or renamed by hand is caught.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_aide.fileio import dumps, read_bytes, read_text
from pytest_aide.measure.profile import Profile
from pytest_aide.results import (
    MAX_STORED_SAMPLES,
    TIMING_MEASURES,
    CacheResult,
    CountResult,
    QueryResult,
    ScalingResult,
    TimingResult,
    TrackResult,
    result_from_dict,
)

__all__ = [
    "BASELINE_SCHEMA",
    "COUNT_FAMILIES",
    "MAX_NAME",
    "MAX_RUNS",
    "MAX_SAMPLES",
    "STALE_TEMP_SECONDS",
    "Baseline",
    "BaselineError",
    "atomic_write_text",
    "baseline_family",
    "baseline_relpath",
    "code_branch",
    "code_version",
    "find_baseline",
    "legacy_relpath",
    "load_baseline",
    "merged_runs",
    "save_baseline",
    "write_problem",
]

BASELINE_SCHEMA = 1
"""Version of the baseline file layout this pytest-aide writes and reads."""
MAX_SAMPLES = MAX_STORED_SAMPLES
"""Samples kept per result; longer runs are thinned evenly."""
MAX_RUNS = 5
"""Saved runs of the same commit a baseline keeps; its spread is the drift the gate allows."""
_REQUIRED = ("schema", "id", "created", "machine", "results")


class BaselineError(Exception):
    """A baseline file that cannot be used; the message names the file."""

    def __init__(self, message: str, keep: bool = False) -> None:
        super().__init__(message)
        self.keep = keep
        """True when the file may hold data that must not be replaced (newer schema, other
        id, unreadable, not a regular file)."""


@dataclass
class Baseline:
    """Stored results of one check on one machine."""

    id: str
    """pytest node id of the check."""
    results: list[TimingResult | CountResult | QueryResult | CacheResult | ScalingResult]
    """Timings or counts; beside timings, statements per call and cache figures."""
    machine: dict[str, Any]
    profile: str = "default"
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    commit: str | None = None
    """Git commit the baseline was measured at; None outside git (and in old files)."""
    dirty: bool = False
    """True when tracked files differed from ``commit`` (baseline files aside)."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Saved runs of this commit, oldest first: ``{"created", "medians": {name: s}}``."""
    profiles: list[Profile] = field(default_factory=list)
    """Profiles of the check's measured calls, when it was saved under ``--aide-explain
    always``: what a differential profile compares a later failure with."""

    @property
    def date(self) -> str:
        """Day the baseline was recorded, ``YYYY-MM-DD``."""
        return self.created[:10]

    def run_medians(self, name: str, measure: str = "wall") -> list[float]:
        """Median seconds of result ``name`` on ``measure`` in each saved run that has them.

        A run records the median of each result's own measure and, under solo
        or cpu time, its wall-time median too (runs saved before measures
        were recorded are wall time).
        """
        found = []
        for run in self.runs:
            measures = run.get("measures") or {}
            if measures.get(name, "wall") == measure and name in run["medians"]:
                found.append(run["medians"][name])
            elif measure == "wall" and name in (run.get("wall_medians") or {}):
                found.append(run["wall_medians"][name])
        return found

    def this_run(self) -> dict[str, Any]:
        """This baseline's own results as one run entry."""
        timings = [r for r in self.results if isinstance(r, TimingResult)]
        return {
            "created": self.created,
            "medians": {r.name: r.median for r in timings},
            "measures": {r.name: r.measure for r in timings},
            "wall_medians": {
                r.name: statistics.median(r.wall_samples) for r in timings if r.wall_samples
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form with samples capped at :data:`MAX_SAMPLES`."""
        results = [result.to_dict() for result in self.results]
        data: dict[str, Any] = {
            "schema": BASELINE_SCHEMA,
            "id": self.id,
            "created": self.created,
            "profile": self.profile,
            "machine": self.machine,
            "results": results,
            "runs": self.runs or [self.this_run()],
        }
        if self.commit is not None:
            data["commit"] = self.commit
            data["dirty"] = self.dirty
        if self.profiles:
            data["profiles"] = [{**p.to_dict(), "files": {}} for p in self.profiles]
        return data

    def to_text(self) -> str:
        """The file's exact contents, as :func:`save_baseline` writes them."""
        return dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


_UNSAFE = re.compile(r"[^A-Za-z0-9._\-\[\]=+,@]+")
MAX_NAME = 100
"""Longest part of a baseline's path kept as it is; longer ones are cut and hashed."""


def _node_parts(nodeid: str) -> list[str]:
    file_part, _, rest = nodeid.partition("::")
    return [p for p in file_part.split("/") if p] + [p for p in rest.split("::") if p]


def _name(raw: str) -> str:
    """``raw`` itself when it is a safe, short file name; else its safe form and a hash.

    Only names that had to change carry the hash (``test_b[x_y_z]~1a2b3c4d5e``), so
    two check ids never share a file, and the usual ids still read as themselves.
    """
    safe = _UNSAFE.sub("_", raw)
    if safe in {".", ".."}:
        safe = "__"
    if safe == raw and len(raw) <= MAX_NAME:
        return raw
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[:MAX_NAME]}~{digest}"


def baseline_relpath(nodeid: str) -> Path:
    """Where a check's baseline lives inside a machine directory (one file per check id)."""
    names = [_name(p) for p in _node_parts(nodeid)] or ["_"]
    return Path(*names[:-1], names[-1] + ".json")


def legacy_relpath(nodeid: str) -> Path:
    """Where pytest-aide before 0.2 kept the baseline; two ids could share that file."""
    safe = [_UNSAFE.sub("_", p) for p in _node_parts(nodeid)]
    safe = ["__" if p in {".", ".."} else p for p in safe] or ["_"]
    return Path(*safe[:-1], safe[-1] + ".json")


def _located(directory: Path, nodeid: str) -> Path | None:
    """``nodeid``'s baseline in one machine directory: its own file, else a legacy one of it."""
    path = directory / baseline_relpath(nodeid)
    legacy = directory / legacy_relpath(nodeid)
    if _found(path):
        return path
    try:
        if legacy == path or not legacy.is_file():
            return None
        data = json.loads(read_text(legacy))
    except (OSError, ValueError):
        return None  # a legacy file that cannot be read is not known to be this check's
    return legacy if isinstance(data, dict) and data.get("id") == nodeid else None


def _found(path: Path) -> bool:
    """Whether ``path`` exists; PermissionError when a directory on the way cannot be read.

    A baseline that cannot be read is not a baseline that is not there: the
    gate says so instead of passing the check as new.
    """
    try:
        path.stat()
    except PermissionError:
        raise
    except OSError:
        return False
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


STALE_TEMP_SECONDS = 600.0
"""Age after which a temporary file left by a killed writer is swept by the next write."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new file, never a part.

    The text goes to a hidden temporary file in the same directory, is synced,
    and replaces ``path`` in one rename. A writer killed midway leaves at most
    that temporary file (``.NAME.*.tmp``); the next write of ``path`` removes
    such files once they are :data:`STALE_TEMP_SECONDS` old (younger ones may
    belong to another process writing right now).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temps(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; a report or baseline is shared
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_problem(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be written, in words: a file in the way, or the OS's reason."""
    for parent in path.parents:
        if parent.is_symlink() and not parent.exists():
            return f"{parent} is a symbolic link that loops or leads nowhere"
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a directory"
            break
    return exc.strerror or str(exc)


def _sweep_stale_temps(path: Path) -> None:
    now = time.time()
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                temp.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _parse(path: Path, shown: str) -> dict[str, Any]:
    try:
        raw = read_bytes(path)
    except OSError as exc:
        # What cannot be read is not known to be worthless: never replaced.
        raise BaselineError(
            f"{shown}: cannot read baseline: {exc.strerror or exc}", keep=True
        ) from None
    if not raw.strip():
        raise BaselineError(f"{shown}: corrupt baseline: the file is empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BaselineError(f"{shown}: corrupt baseline: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{shown}: corrupt baseline: {exc}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"{shown}: corrupt baseline: expected a JSON object")
    return data


def load_baseline(path: Path, expected_id: str | None = None, shown: str | None = None) -> Baseline:
    """Read and validate one baseline file."""
    shown = shown or str(path)
    data = _parse(path, shown)
    schema = data.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > BASELINE_SCHEMA:
        raise BaselineError(
            f"{shown}: baseline schema {schema} is newer than this pytest-aide reads "
            f"({BASELINE_SCHEMA}); upgrade pytest-aide",
            keep=True,
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise BaselineError(f"{shown}: baseline is missing field {missing[0]!r}")
    if schema != BASELINE_SCHEMA:
        raise BaselineError(f"{shown}: unsupported baseline schema {schema!r}")
    if expected_id is not None and data["id"] != expected_id:
        raise BaselineError(
            f"{shown}: baseline is for {data['id']!r}, not {expected_id!r}", keep=True
        )
    try:
        if not isinstance(data["results"], list):
            raise ValueError("'results' is not a list")
        results = [result_from_dict(r) for r in data["results"]]
        results = [
            r
            for r in results
            if isinstance(
                r, (TimingResult, CountResult, QueryResult, CacheResult, ScalingResult, TrackResult)
            )
        ]
        if not isinstance(data["machine"], dict):
            raise ValueError("'machine' is not an object")
        machine = dict(data["machine"])
        profiles = [Profile.from_dict(p) for p in data.get("profiles") or []]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        detail = f"field {exc.args[0]!r} missing" if isinstance(exc, KeyError) else str(exc)
        raise BaselineError(f"{shown}: corrupt baseline results: {detail}") from None
    commit = data.get("commit")
    if commit is not None and not isinstance(commit, str):
        raise BaselineError(f"{shown}: corrupt baseline: 'commit' is not a string")
    return Baseline(
        id=str(data["id"]),
        results=results,
        machine=machine,
        profile=str(data.get("profile", "default")),
        created=str(data["created"]),
        commit=commit,
        dirty=data.get("dirty") is True,
        runs=_runs(data.get("runs", []), shown),
        profiles=profiles,
    )


def _runs(raw: Any, shown: str) -> list[dict[str, Any]]:
    """Validated ``runs`` entries: each a creation time and positive, finite medians."""
    if not isinstance(raw, list):
        raise BaselineError(f"{shown}: corrupt baseline: 'runs' is not a list")
    runs = []
    for number, run in enumerate(raw, 1):
        medians = run.get("medians") if isinstance(run, dict) else None
        if not isinstance(medians, dict) or not all(_seconds(v) for v in medians.values()):
            raise BaselineError(
                f"{shown}: corrupt baseline: run {number} needs 'medians', positive seconds by name"
            )
        entry = {"created": str(run.get("created", "")), "medians": dict(medians)}
        measures = run.get("measures")
        if isinstance(measures, dict) and all(v in TIMING_MEASURES for v in measures.values()):
            entry["measures"] = dict(measures)
        walls = run.get("wall_medians")
        if isinstance(walls, dict) and all(_seconds(v) for v in walls.values()):
            entry["wall_medians"] = dict(walls)
        runs.append(entry)
    return runs


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def merged_runs(old: Baseline | None, new: Baseline) -> list[dict[str, Any]]:
    """The runs ``new`` keeps: ``old``'s last ones when both measured the same clean commit.

    Runs of one commit differ only by the machine's drift, which is what their
    spread should estimate; a new commit (or a dirty tree) starts afresh.
    """
    same_code = (
        old is not None
        and new.commit is not None
        and old.commit == new.commit
        and not (old.dirty or new.dirty)
    )
    kept = (old.runs or [old.this_run()]) if same_code and old is not None else []
    return [*kept, new.this_run()][-MAX_RUNS:]


def _git(rootdir: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=rootdir, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_branch(rootdir: Path) -> str | None:
    """The git branch checked out at ``rootdir``; None outside git or on a detached HEAD."""
    branch = (_git(rootdir, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    return branch if branch and branch != "HEAD" else None


def code_version(rootdir: Path, ignore: list[Path]) -> tuple[str | None, bool]:
    """The git commit checked out at ``rootdir`` and whether tracked files differ from it.

    Changes under ``ignore`` (the baseline and report directories) do not count:
    saving a baseline must not make the next save look like other code.
    Returns ``(None, False)`` outside git.
    """

    def git(*args: str) -> str | None:
        return _git(rootdir, *args)

    commit = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if not commit:
        return None, False
    excluded = []
    for path in ignore:
        try:
            excluded.append(f":(exclude){path.resolve().relative_to(rootdir.resolve())}")
        except ValueError:
            continue
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", *excluded)
    return commit.strip(), bool(status and status.strip())


COUNT_FAMILIES = ("instructions", "cycles")
"""Machine directories of count baselines start with their measure: ``instructions-...``."""


def baseline_family(dirname: str) -> str:
    """What the baselines in a machine directory measured: ``time`` or a count's measure."""
    head = dirname.partition("-")[0]
    return head if head in COUNT_FAMILIES else "time"


def find_baseline(root: Path, slug: str, nodeid: str) -> tuple[Path | None, bool]:
    """The baseline file for ``nodeid``: this machine's, else the newest of another's.

    Only directories of the same family as ``slug`` (wall time, or one count
    measure) are looked at. Returns the path (or None) and whether it belongs
    to this machine. PermissionError (its ``filename`` set) when this
    machine's directory cannot be read.
    """
    own = _located(root / slug, nodeid)
    if own is not None:
        return own, True
    family = baseline_family(slug)
    try:
        directories = sorted(root.glob("*"))
    except OSError:
        directories = []
    others = [
        found
        for p in directories
        if p.is_dir() and p.name != slug and baseline_family(p.name) == family
        if (found := _located(p, nodeid)) is not None
    ]
    if not others:
        return None, False
    return max(others, key=_mtime), False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def save_baseline(path: Path, baseline: Baseline, shown: str | None = None) -> str | None:
    """Write ``baseline`` atomically; returns a note when a corrupt file was replaced.

    Runs saved before at the same commit are kept beside this one (:func:`merged_runs`).

    A file written by a newer pytest-aide, or holding another check's id, is
    never replaced: its data would be lost.
    """
    shown = shown or str(path)
    note = None
    old = None
    if path.exists():
        try:
            old = load_baseline(path, baseline.id, shown=shown)
        except BaselineError as exc:
            if exc.keep:
                raise BaselineError(f"{exc}; not replaced", keep=True) from None
            note = f"replaced unusable baseline {exc}"
    baseline.runs = merged_runs(old, baseline)
    try:
        atomic_write_text(path, baseline.to_text())
    except OSError as exc:
        raise BaselineError(f"{shown}: cannot save baseline: {write_problem(path, exc)}") from None
    return note
