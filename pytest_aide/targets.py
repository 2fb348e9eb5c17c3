"""Import a ``package.module:attr.path`` target: the one way scenarios and load workers do."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

__all__ = ["TargetError", "import_named", "import_target"]


class TargetError(Exception):
    """A target that cannot be imported; the message says why, in one line."""


def import_target(spec: str, search_path: Path | str | None = None) -> Any:
    """Import ``package.module:attr.path`` and return the object it names.

    ``search_path`` (the project root) is put first on ``sys.path``, as pytest
    does for test files, so project modules import without being installed.
    """
    if search_path is not None and str(search_path) not in sys.path:
        sys.path.insert(0, str(search_path))
    module_name, _, attr_path = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    except (Exception, SystemExit) as exc:
        # sys.exit() at import is the module's failure too, not a reason to stop pytest.
        raise TargetError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{spec!r}: {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def import_named(spec: str, search_path: Path | str | None = None, what: str = "attribute") -> Any:
    """:func:`import_target` for a name a check gives (``caches``, ``databases``).

    A name without ``module:`` and an attribute says what was expected.
    """
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise TargetError(f"expected 'package.module:{what}', got {spec!r}")
    return import_target(spec, search_path)
