"""The pytest sessions pytest-aide starts in a tree: its arguments, and the trees themselves.

Pair workers (``--aide-against``, same-job confirmation), count workers,
REV's asv numbers and REV's profile all run the items in a session of their own
that must share this session's options.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_aide.against import Revision
from pytest_aide.collect import ScenarioItem
from pytest_aide.config import Settings
from pytest_aide.fileio import absolute
from pytest_aide.measure.pair import Tree

__all__ = ["session_options", "trees", "worker_args"]


def trees(config: pytest.Config, revision: Revision, items: list[pytest.Item]) -> tuple[Tree, Tree]:
    """REV's tree and this one, importing the project (and ``items``' targets) from each."""
    extra = [
        item.scenario.target.partition(":")[0]
        for item in items
        if isinstance(item, ScenarioItem) and item.scenario is not None
    ]
    return revision.trees(config.rootpath, config.inipath, extra)


def worker_args(
    config: pytest.Config, settings: Settings, items: list[pytest.Item], rootdir: Path
) -> list[str]:
    """pytest arguments of a worker session (pair or count) that runs ``items``."""
    files = sorted({item.path.resolve().relative_to(config.rootpath) for item in items})
    options = [*session_options(config, settings, rootdir), "--continue-on-collection-errors"]
    options += ["-p", "no:randomly"]
    if config.pluginmanager.has_plugin("xdist"):
        options += ["-n", "0"]
    return [*options, *(str(f) for f in files if (rootdir / f).exists())]


def session_options(config: pytest.Config, settings: Settings, rootdir: Path) -> list[str]:
    """This session's own pytest options that every worker session must share.

    ``-o``, ``-p``, ``-W``, ``--import-mode`` and ``--confcutdir`` as this
    session got them (a path under this rootdir moves to ``rootdir``); the
    ini file and rootdir are the worker's :class:`Tree`'s, and
    ``PYTEST_ADDOPTS`` reaches it through the environment.
    """
    option = config.option
    args: list[str] = []
    for entry in getattr(option, "override_ini", None) or []:
        args += ["-o", entry]
    for name in getattr(option, "plugins", None) or []:
        args += ["-p", name]
    for warning in getattr(option, "pythonwarnings", None) or []:
        args += ["-W", warning]
    mode = getattr(option, "importmode", None)
    if mode:
        args.append(f"--import-mode={mode}")
    given = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    cut = getattr(option, "confcutdir", None)
    if cut and any(str(a).startswith("--confcutdir") for a in given):
        path = absolute(Path(cut))
        if path.is_relative_to(config.rootpath):
            path = rootdir / path.relative_to(config.rootpath)
        args.append(f"--confcutdir={path}")
    asv = settings.asv  # the suite's configuration, in the worker's own tree
    if asv is not None:
        if asv.is_relative_to(config.rootpath):
            asv = rootdir / asv.relative_to(config.rootpath)
        args += ["--aide-asv", str(asv)]
    return args
