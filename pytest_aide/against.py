"""``--aide-against REV``: check out a git revision to measure beside the current tree.

REV is checked out with ``git worktree add --detach`` into a temporary
directory (the current checkout is never touched) and removed at the end.
Each target is then measured in both trees, interleaved, by
:func:`pytest_aide.measure.pair.measure_pair`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_aide.measure.pair import PairPlan, PairResult, Side, WorkerError, measure_pair

__all__ = ["AgainstError", "Revision", "importable_spec"]


class AgainstError(Exception):
    """``--aide-against`` cannot be used as asked; the message says why."""


def _git(args: list[str], cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AgainstError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
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
        except AgainstError:
            raise AgainstError(
                f"--aide-against {name}: {rootdir} is not inside a git repository"
            ) from None
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

    def measure(
        self,
        target: str,
        root: Path,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        plan: PairPlan | None = None,
    ) -> PairResult:
        """Measure ``target`` at REV (side A) and in the current tree (side B), interleaved."""
        try:
            return measure_pair(
                Side(self.label, self.path_for(root), target, args, kwargs),
                Side("this tree", root, target, args, kwargs),
                plan,
            )
        except WorkerError as exc:
            raise AgainstError(str(exc)) from None

    def remove(self) -> None:
        """Remove the worktree (if this process checked it out); the repository forgets it."""
        if not self.owned:
            return
        try:
            _git(["worktree", "remove", "--force", str(self.worktree)], self.toplevel)
        except AgainstError:
            shutil.rmtree(self.worktree, ignore_errors=True)
            subprocess.run(["git", "worktree", "prune"], cwd=self.toplevel, check=False)


def importable_spec(fn: Any, purpose: str = "--aide-against") -> tuple[str, Path]:
    """``module:qualname`` of a module-level callable, and the ``sys.path`` entry it needs.

    Used where a callable must be imported by name in another process (both trees
    of ``--aide-against``, the workers of ``aide_load(mode="process")``), so
    lambdas, closures and bound methods cannot be used. Raises ``ValueError``.
    """
    qualname = getattr(fn, "__qualname__", None)
    module_name = getattr(fn, "__module__", None)
    module: ModuleType | None = sys.modules.get(module_name or "")
    if not qualname or "<" in qualname or module is None or not getattr(module, "__file__", None):
        where = "in both trees" if purpose == "--aide-against" else "in its worker processes"
        raise ValueError(f"{purpose} needs a module-level function to import {where}, got {fn!r}")
    path = Path(module.__file__).resolve()  # type: ignore[arg-type]
    depth = len(module_name.split(".")) + (1 if path.name == "__init__.py" else 0)  # type: ignore[union-attr]
    return f"{module_name}:{qualname}", path.parents[depth - 1]
