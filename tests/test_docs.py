"""The docs cannot fall behind the code: reference tables, sample output, links."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pytest_aide.options import OPTIONS, SCENARIO_DIRS_INI
from pytest_aide.report.terminal import _HEADER
from pytest_aide.scenarios import SCENARIO_KEYS
from pytest_aide.verdict import THRESHOLD_KEYS

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_option_has_a_reference_row(hooks: ModuleType) -> None:
    table = hooks.options_table()
    for option in OPTIONS:
        assert f"| `--aide-{option.name}" in table and f"`{option.dest}`" in table
    assert f"`{SCENARIO_DIRS_INI}`" in table


def test_every_threshold_key_is_described_with_a_value_that_parses(hooks: ModuleType) -> None:
    assert set(hooks.THRESHOLD_HELP) == set(THRESHOLD_KEYS)
    for key, (_, example) in hooks.THRESHOLD_HELP.items():
        value = tomllib.loads(f"v = {example}")["v"]
        THRESHOLD_KEYS[key].parse(value)  # raises on a value the key does not take
        assert f"| `{key}` |" in hooks.thresholds_table()


def test_every_scenario_key_is_described(hooks: ModuleType) -> None:
    assert set(hooks.SCENARIO_HELP) == set(SCENARIO_KEYS)
    table = hooks.scenario_keys_table()
    assert all(f"| `{key}` |" in table for key in SCENARIO_KEYS)


def test_a_key_the_code_gains_without_a_description_stops_the_build(
    hooks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "SCENARIO_KEYS", (*SCENARIO_KEYS, "brand_new"))
    with pytest.raises(ValueError, match=r"scenario key\(s\) brand_new not described"):
        hooks.scenario_keys_table()


def test_every_report_field_is_in_the_reference(hooks: ModuleType) -> None:
    text = hooks.report_schema()
    for field in ("schema", "checks", "comparisons", "declared", "samples", "value"):
        assert f"| `{field}` |" in text


def test_each_reference_page_holds_its_table(hooks: ModuleType) -> None:
    pages = {p.stem: p.read_text() for p in (ROOT / "docs" / "reference").glob("*.md")}
    for name in hooks.GENERATED:
        assert f"<!-- reference: {name} -->" in pages[name]
    assert "--aide-perf" in hooks.on_page_markdown(pages["options"], page=None)


def _scenario_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "scenarios").glob("*.toml"):
        names |= set(tomllib.loads(path.read_text())["scenarios"])
    return names


@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_the_sample_output_has_todays_columns_and_scenarios(page: str) -> None:
    spec = importlib.util.spec_from_file_location("sample", ROOT / "docs" / "sample_output.py")
    assert spec is not None and spec.loader is not None
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    lines = sample.block((ROOT / page).read_text()).splitlines()
    header = next(line for line in lines if line.startswith("check "))
    columns = re.split(r"\s{2,}", header.strip())
    assert columns[0] == "check" and columns[-1] == "status"
    assert set(columns) <= set(_HEADER), "regenerate it: python docs/sample_output.py"
    rows = lines[lines.index(header) + 1 : lines.index("", lines.index(header))]
    shown = {re.split(r"\s{2,}", row.strip())[0].split(" (knee")[0] for row in rows}
    assert shown == _scenario_names(), "regenerate it: python docs/sample_output.py"


def test_the_readme_is_short_and_its_links_resolve() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
