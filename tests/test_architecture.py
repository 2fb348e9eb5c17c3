"""The package's shape: no import cycles (type-only ones included), no ``_pytest``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_aide

PACKAGE = Path(pytest_aide.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("pytest_aide", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that importing ``path`` runs, parents included."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                named.add(sub if sub in modules else node.module)
    ran = set()
    for name in named:
        bits = name.split(".")
        ran.update(".".join(bits[:i]) for i in range(1, len(bits) + 1))
    return {m for m in ran if m in modules}


def test_no_module_imports_pytest_internals() -> None:
    for name, path in _modules().items():
        assert "_pytest" not in {m.split(".")[0] for m in _raw_imports(path)}, name


def _raw_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            assert state.get(dep) != "open", "import cycle: " + " -> ".join([*trail, dep])
            if dep not in state:
                visit(dep, [*trail, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_plugin_holds_only_entry_points_options_and_fixtures() -> None:
    plugin = (PACKAGE / "plugin.py").read_text(encoding="utf-8")
    assert len(plugin.splitlines()) <= 200
    assert "class " not in plugin.replace("class:", "")
