"""``--aide-against REV``: check out a git revision to measure beside the current tree.

REV is checked out with ``git worktree add --detach`` into a temporary
directory (the current checkout is never touched) and removed at the end.
The checks are then run in both trees, interleaved, by
:func:`pytest_aide.measure.pair.pair_items`; :func:`project_modules` says which
top-level modules are the project's, so that each side imports its own copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_aide.measure.pair import Tree

__all__ = ["AgainstError", "Revision", "importable_spec", "project_modules"]


class AgainstError(Exception):
    """``--aide-against`` cannot be used as asked; the message says why."""


def _git(args: list[str], cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        raise AgainstError((fatal or lines or [""])[0 if fatal else -1])
    return done.stdout.strip()


@dataclass
class Revision:
    """A git revision checked out in a temporary worktree."""

    name: str
    """REV as the user wrote it."""
    commit: str
    toplevel: Path
    """Top of the current checkout."""
    worktree: Path
    owned: bool = True
    """False in an xdist worker: the controller checked the worktree out and removes it."""

    def to_dict(self) -> dict[str, str]:
        """Plain form, handed to xdist workers so they share this worktree."""
        return {
            "name": self.name,
            "commit": self.commit,
            "toplevel": str(self.toplevel),
            "worktree": str(self.worktree),
        }

    @classmethod
    def shared(cls, data: dict[str, str]) -> Revision:
        """The controller's worktree, as an xdist worker uses it (without removing it)."""
        return cls(
            data["name"], data["commit"], Path(data["toplevel"]), Path(data["worktree"]), False
        )

    @classmethod
    def check_out(cls, name: str, rootdir: Path) -> Revision:
        """Check out ``name`` next to the checkout that holds ``rootdir``."""
        if shutil.which("git") is None:
            raise AgainstError(f"--aide-against {name}: git is not installed")
        try:
            toplevel = Path(_git(["rev-parse", "--show-toplevel"], rootdir))
        except AgainstError as exc:
            why = str(exc)
            if not why or "not a git repository" in why:
                why = f"{rootdir} is not inside a git repository"
            raise AgainstError(f"--aide-against {name}: {why}") from None
        try:
            commit = _git(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], toplevel)
        except AgainstError:
            commit = ""
        if not commit:
            raise AgainstError(f"--aide-against {name}: unknown revision {name!r}")
        worktree = Path(tempfile.mkdtemp(prefix="aide-against-"))
        try:
            _git(["worktree", "add", "--detach", "--force", str(worktree), commit], toplevel)
        except AgainstError as exc:
            shutil.rmtree(worktree, ignore_errors=True)
            raise AgainstError(f"--aide-against {name}: cannot check out: {exc}") from None
        return cls(name, commit, toplevel, worktree)

    @property
    def label(self) -> str:
        """``REV (abc1234)``, as failure lines show it."""
        return f"{self.name} ({self.commit[:7]})" if self.name != self.commit[:7] else self.name

    def path_for(self, current: Path) -> Path:
        """Where ``current`` (a path in this checkout) lies in REV's worktree."""
        return self.worktree / current.resolve().relative_to(self.toplevel.resolve())

    def trees(
        self, rootdir: Path, inifile: Path | None, extra: Sequence[str] = ()
    ) -> tuple[Tree, Tree]:
        """Side A (REV's worktree) and side B (this tree), each importing its own project code.

        ``extra`` names more top-level modules to treat as the project's (scenario
        targets not imported yet).
        """
        here = project_modules(self.toplevel, extra)
        there = {name: [str(self._moved(Path(p))) for p in places] for name, places in here.items()}
        rev_ini = self.path_for(inifile) if inifile is not None else None
        a = Tree(
            self.label,
            self.path_for(rootdir),
            rev_ini if rev_ini is not None and rev_ini.is_file() else None,
            there,
            (str(self.toplevel.resolve()), str(self.worktree.resolve())),
        )
        b = Tree("this tree", rootdir, inifile, here, (str(self.toplevel.resolve()),) * 2)
        return a, b

    def changed_files(self) -> list[str]:
        """Files that differ between REV and this checkout, relative to its top."""
        try:
            return _git(["diff", "--name-only", self.commit, "--"], self.toplevel).splitlines()
        except AgainstError:
            return []

    def _moved(self, path: Path) -> Path:
        """``path`` in REV's worktree if it lies in this checkout, else unchanged."""
        resolved = path.resolve()
        if resolved.is_relative_to(self.toplevel.resolve()):
            return self.path_for(resolved)
        return resolved

    def remove(self) -> None:
        """Remove the worktree (if this process checked it out); the repository forgets it."""
        if not self.owned:
            return
        try:
            _git(["worktree", "remove", "--force", str(self.worktree)], self.toplevel)
        except AgainstError:
            shutil.rmtree(self.worktree, ignore_errors=True)
            subprocess.run(["git", "worktree", "prune"], cwd=self.toplevel, check=False)


def importable_spec(fn: Any, purpose: str = 'aide_load(mode="process")') -> tuple[str, Path]:
    """``module:qualname`` of a module-level callable, and the ``sys.path`` entry it needs.

    Used where a callable must be imported by name in other processes (the workers
    of ``aide_load(mode="process")``), so lambdas, closures and bound methods
    cannot be used. Raises ``ValueError``.
    """
    qualname = getattr(fn, "__qualname__", None)
    module_name = getattr(fn, "__module__", None)
    module: ModuleType | None = sys.modules.get(module_name or "")
    if not qualname or "<" in qualname or module is None or not getattr(module, "__file__", None):
        raise ValueError(
            f"{purpose} needs a module-level function to import in its worker processes, got {fn!r}"
        )
    path = Path(module.__file__).resolve()  # type: ignore[arg-type]
    depth = len(module_name.split(".")) + (1 if path.name == "__init__.py" else 0)  # type: ignore[union-attr]
    return f"{module_name}:{qualname}", path.parents[depth - 1]


_NOT_PROJECT = ("site-packages", "dist-packages", ".tox", ".nox")
_HARNESS = "pytest_aide"


def _location(module: ModuleType) -> list[Path]:
    """Where a module was imported from: its file, or its package's folder(s).

    Files are resolved, so a link tree (setuptools' strict editable mode) leads
    back to the checkout it links to.
    """
    file = getattr(module, "__file__", None)
    if file:
        resolved = Path(file).resolve()
        return [resolved.parent] if resolved.name == "__init__.py" else [resolved]
    return [Path(p).resolve() for p in getattr(module, "__path__", None) or ()]


def _in_tree(name: str, toplevel: Path, namespace: bool) -> list[Path]:
    """Where a checkout keeps top-level module ``name``: flat or src layout, else nowhere.

    A folder without ``__init__.py`` counts only for a namespace package.
    """
    for base in (toplevel, toplevel / "src"):
        if (base / name / "__init__.py").is_file() or (namespace and (base / name).is_dir()):
            return [base / name]
        if (base / f"{name}.py").is_file():
            return [base / f"{name}.py"]
    return []


def project_modules(toplevel: Path, extra: Sequence[str] = ()) -> dict[str, list[str]]:
    """The project's top-level modules (imported so far, plus ``extra``) and their locations.

    A module belongs to the project when it was imported from this checkout
    (outside virtual environments), or when the checkout holds it in a flat or
    src layout while the import came from elsewhere (a non-editable install).
    pytest's own test and conftest modules are left to pytest.
    """
    top = toplevel.resolve()
    found: dict[str, list[str]] = {}
    names = {n for n in sys.modules if "." not in n} | {n.partition(".")[0] for n in extra}
    for name in sorted(names):
        if (
            name == _HARNESS
            or name == "conftest"
            or name.startswith("test_")
            or name.endswith("_test")
        ):
            continue
        module = sys.modules.get(name)
        namespace = module is not None and getattr(module, "__file__", None) is None
        places = _in_tree(name, top, namespace) or [
            p
            for p in (_location(module) if module is not None else [])
            if p.is_relative_to(top) and not set(_NOT_PROJECT) & set(p.relative_to(top).parts)
        ]
        if places:
            found[name] = [str(p) for p in places]
    return found
