"""``report.json``: every check with its results, verdict and comparison."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_aide.check import Check, totals
from pytest_aide.fileio import dumps, read_text

__all__ = [
    "REPORT_SCHEMA",
    "SCHEMA_FILE",
    "build_report",
    "dump_report",
    "read_report",
]

REPORT_SCHEMA = 1
"""Version of the ``report.json`` layout."""
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
"""The JSON Schema that ``report.json`` follows, shipped with the package."""


def build_report(
    checks: Sequence[Check], *, profile: str, machine: dict[str, Any]
) -> dict[str, Any]:
    """The report as plain data."""
    return {
        "schema": REPORT_SCHEMA,
        "kind": "pytest-aide-report",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": profile,
        "machine": machine,
        "totals": totals(checks),
        "checks": [check.to_dict() for check in checks],
    }


def dump_report(report: dict[str, Any]) -> str:
    """The report as ``report.json`` text (sorted keys, indented)."""
    return dumps(report, indent=2, sort_keys=True) + "\n"


def read_report(path: Path) -> dict[str, Any]:
    """Read a ``report.json``; ``ValueError`` with a one-line reason if it is not one."""
    try:
        data = json.loads(read_text(path))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not JSON ({exc}): expected a pytest-aide report.json") from None
    if not isinstance(data, dict) or data.get("kind") != "pytest-aide-report":
        raise ValueError(f"{path}: not a pytest-aide report.json")
    schema = data.get("schema")
    if not isinstance(schema, int) or schema > REPORT_SCHEMA:
        raise ValueError(
            f"{path}: report schema {schema!r} is newer than this pytest-aide reads "
            f"({REPORT_SCHEMA})"
        )
    return data
