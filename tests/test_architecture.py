"""The package's shape: no import cycles (type-only ones included), no ``_pytest``, sizes."""

from __future__ import annotations

import ast
import re
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


LIMITS = {"module": 600, "class": 300, "function": 60}
"""Lines a module, a class and a function may hold."""


def _sizes() -> dict[tuple[str, str], int]:
    sizes = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text(encoding="utf-8")
        sizes[("module", rel)] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                kind = "class"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                kind = "function"
            else:
                continue
            key = (kind, f"{rel}:{node.name}")
            sizes[key] = max(sizes.get(key, 0), node.end_lineno - node.lineno + 1)  # type: ignore[operator]
    return sizes


def test_no_module_class_or_function_grows_past_its_limit() -> None:
    for (kind, name), size in _sizes().items():
        assert size <= LIMITS[kind], f"{kind} {name}: {size} lines > {LIMITS[kind]}"


def _named_in(text: str) -> set[str]:
    """Module paths a page names: ``a/b.py``, or ``a/{b,c}.py`` for several."""
    named = set(re.findall(r"([\w/]+\.py)", text))
    for folder, group in re.findall(r"([\w/]*)\{([\w,\s]+)\}\.py", text):
        named.update(f"{folder}{stem.strip()}.py" for stem in group.split(","))
    return named


def test_every_module_is_placed_on_the_architecture_page() -> None:
    page = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = _named_in(page)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if path.name != "__init__.py":
            assert rel in named, f"ARCHITECTURE.md does not say where {rel} stands"
