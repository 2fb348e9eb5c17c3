"""Every test the Guarantees page names exists, so no promise loses its test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _guarantees() -> str:
    return (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")


def _named_tests(section: str) -> list[tuple[str, str]]:
    """``(file, name)`` for each ``tests/f.py::name`` and each ``::name`` after it."""
    named, current = [], None
    for file, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", section):
        current = file or current
        assert current is not None, f"::{name} names no file"
        named.append((current, name))
    return named


def test_every_named_test_exists() -> None:
    named = _named_tests(_guarantees())
    assert len(named) >= 10
    for file, name in named:
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        defined = {
            node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        } | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert name in defined, f"docs/guarantees.md names {file}::{name}, which does not exist"
