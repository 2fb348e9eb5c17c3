"""Command-line options and their ini twins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_aide.cli import main
from pytest_aide.config import Settings
from pytest_aide.options import OPTIONS, read_settings


def test_help_lists_the_aide_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "pytest-aide: performance measurement and gates:",
            "*--aide-perf*",
            "*--aide-iterations=N*",
            "*--aide-warmup=N*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*aide_perf (bool):*", "*aide_iterations (string):*", "*aide_scenarios (linelist):*"]
    )


def test_the_table_drives_help_ini_and_every_setting(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = " ".join(pytester.runpytest("--help").stdout.str().split())  # unwrapped
    for option in OPTIONS:
        assert f"--aide-{option.name}" in shown and f"ini: {option.dest}" in shown, option.name
        kind = "bool" if option.kind == "flag" else "string"
        assert f"{option.dest} ({kind}):" in shown, option.dest
    filled = {o.setting for o in OPTIONS} | {"profile_source", "scenario_dirs"}
    assert filled == {f.name for f in dataclasses.fields(Settings)}
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    compare_help = " ".join(capsys.readouterr().out.split())
    for option in OPTIONS:
        assert (f"--{option.name} " in compare_help) == option.compare, option.name


def test_settings_read_options_then_ini_then_defaults(tmp_path: Path) -> None:
    given = {"aide_tolerance": 0.25, "aide_no_compare": True}
    ini = {
        "aide_tolerance": "50%",
        "aide_drift": "8",
        "aide_report_dir": "out",
        "aide_scenarios": [],
    }
    settings = read_settings(given.get, lambda name: ini.get(name, ""), tmp_path, {})
    assert settings.tolerance == 0.25 and settings.drift == pytest.approx(0.08)
    assert settings.compare is False and settings.perf is False
    assert settings.report_dir == tmp_path / "out"
    assert settings.baseline_dir == tmp_path / "baselines" and settings.history is None
    assert settings.loop == "asyncio" and settings.profile == "default"


def test_summary_only_under_perf_and_only_with_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    assert "aide performance summary" not in result.stdout.str()
