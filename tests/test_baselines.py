"""Baseline files: layout, atomic writes, validation, and never losing data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.baselines import (
    BASELINE_SCHEMA,
    MAX_SAMPLES,
    Baseline,
    BaselineError,
    baseline_relpath,
    find_baseline,
    load_baseline,
    save_baseline,
)
from pytest_aide.measure.system import fingerprint, machine_info, machine_slug
from pytest_aide.results import TimingResult

ID = "scenarios/aide.toml::system_diagnosis"


def _baseline(samples: list[float] | None = None, id_: str = ID) -> Baseline:
    result = TimingResult("system_diagnosis", samples or [0.1, 0.2, 0.3], calls_per_sample=3)
    return Baseline(id=id_, results=[result], machine=machine_info(), profile="production")


def test_saved_file_is_diff_friendly_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    assert save_baseline(path, _baseline()) is None
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["schema"] == BASELINE_SCHEMA and data["id"] == ID
    assert data["profile"] == "production"
    assert {"cpu", "cores", "python", "os", "packages"} <= set(data["machine"])
    assert "pytest" in data["machine"]["packages"]
    (result,) = data["results"]
    assert result["samples"] == [0.1, 0.2, 0.3] and result["stats"]["median"] == 0.2
    assert load_baseline(path, ID).results[0].samples == [0.1, 0.2, 0.3]
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left


def test_samples_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(path, _baseline([float(i + 1) for i in range(2500)]))
    (result,) = json.loads(path.read_text())["results"]
    assert len(result["samples"]) == MAX_SAMPLES and result["samples_total"] == 2500
    assert result["samples"][0] == 1.0 and result["samples"][-1] == 2500.0


@given(
    st.lists(st.floats(min_value=1e-9, max_value=1e3), min_size=1, max_size=30),
    st.text(min_size=1, max_size=30),
)
def test_baseline_round_trips(samples: list[float], name: str) -> None:
    import tempfile

    baseline = Baseline(id=name, results=[TimingResult(name, samples)], machine={"cpu": "x"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.json"
        save_baseline(path, baseline)
        again = load_baseline(path, name)
    assert again.results == baseline.results
    assert (again.id, again.machine, again.created) == (name, {"cpu": "x"}, baseline.created)


BAD = [
    (b"", "corrupt baseline: the file is empty"),
    (b'{"schema": 1, "id": ', "corrupt baseline: Expecting value"),
    (b"\x00\xff\xfe binary", "corrupt baseline: not UTF-8 text"),
    (b"[1, 2]", "corrupt baseline: expected a JSON object"),
    (b'{"schema": 1, "id": "x"}', "baseline is missing field 'created'"),
    (
        b'{"schema": 99, "id": "x", "created": "", "machine": {}, "results": []}',
        "baseline schema 99 is newer than this pytest-aide reads (1); upgrade pytest-aide",
    ),
    (
        json.dumps(
            {"schema": 1, "id": "other::test", "created": "", "machine": {}, "results": []}
        ).encode(),
        f"baseline is for 'other::test', not '{ID}'",
    ),
    (
        b'{"schema": 1, "id": "' + ID.encode() + b'", "created": "", "machine": {}, '
        b'"results": [{"kind": "timing"}]}',
        "corrupt baseline results: field 'name' missing",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_bad_files_give_one_line_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    with pytest.raises(BaselineError) as excinfo:
        load_baseline(path, ID, shown="baselines/m/b.json")
    assert str(excinfo.value).startswith(f"baselines/m/b.json: {message}")
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(("content", "message"), BAD[-3:-1])
def test_newer_or_foreign_files_are_never_replaced(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    with pytest.raises(BaselineError, match="not replaced"):
        save_baseline(path, _baseline())
    assert path.read_bytes() == content


def test_corrupt_file_is_replaced_on_save_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b"{ truncated")
    note = save_baseline(path, _baseline(), shown="b.json")
    assert note is not None and note.startswith("replaced unusable baseline b.json: corrupt")
    assert load_baseline(path, ID).profile == "production"


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "baselines"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(BaselineError, match=r"^baselines/x\.json: cannot save baseline: "):
        save_baseline(blocker / "x.json", _baseline(), shown="baselines/x.json")
    assert blocker.read_text() == "a file where the directory should be"


def test_layout_mirrors_the_node_id() -> None:
    assert baseline_relpath(ID) == Path("scenarios/aide.toml/system_diagnosis.json")
    assert baseline_relpath("tests/t.py::TestA::test_b[x/y z]") == Path(
        "tests/t.py/TestA/test_b[x_y_z].json"
    )
    assert baseline_relpath("../up.py::test") == Path("__/up.py/test.json")


def test_find_prefers_this_machine_then_the_newest_other(tmp_path: Path) -> None:
    relative = baseline_relpath(ID)
    assert find_baseline(tmp_path, "mine", ID) == (None, False)
    other = tmp_path / "other" / relative
    save_baseline(other, _baseline())
    assert find_baseline(tmp_path, "mine", ID) == (other, False)
    own = tmp_path / "mine" / relative
    save_baseline(own, _baseline())
    assert find_baseline(tmp_path, "mine", ID) == (own, True)


def test_machine_fingerprint_ignores_what_does_not_change_speed() -> None:
    info = machine_info()
    assert fingerprint(info) == fingerprint({**info, "os_release": "9.9", "packages": {}})
    assert fingerprint(info) != fingerprint({**info, "cores": info["cores"] + 1})
    assert machine_slug(info).endswith(fingerprint(info)[:8])
