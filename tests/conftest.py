"""Shared set-up for pytest-aide's own tests."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _quiet_inner_sessions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester sessions have no ini file; give them pytest-asyncio's loop scope."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when created
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
        # Inner sessions must not append to the real job summary of a GitHub Actions run.
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        # A wide terminal, so rows keep every column; tests/test_terminal.py sets its own.
        monkeypatch.setenv("COLUMNS", "250")
