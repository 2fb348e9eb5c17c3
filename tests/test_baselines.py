"""Baseline files: layout, atomic writes, validation, and never losing data."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.baselines import (
    BASELINE_SCHEMA,
    MAX_RUNS,
    MAX_SAMPLES,
    Baseline,
    BaselineError,
    baseline_relpath,
    code_version,
    find_baseline,
    legacy_relpath,
    load_baseline,
    merged_runs,
    save_baseline,
)
from pytest_aide.measure.system import fingerprint, machine_info, machine_slug
from pytest_aide.results import TimingResult

ID = "scenarios/aide.toml::system_diagnosis"


def _baseline(
    samples: list[float] | None = None,
    id_: str = ID,
    commit: str | None = None,
    dirty: bool = False,
) -> Baseline:
    result = TimingResult("system_diagnosis", samples or [0.1, 0.2, 0.3], calls_per_sample=3)
    return Baseline(
        id=id_,
        results=[result],
        machine=machine_info(),
        profile="production",
        commit=commit,
        dirty=dirty,
    )


def test_saves_of_one_clean_commit_pool_their_runs(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    for median in range(1, 8):
        save_baseline(path, _baseline([median / 10] * 3, commit="abc"))
    saved = load_baseline(path, ID)
    assert saved.commit == "abc" and saved.dirty is False
    # The last MAX_RUNS saves, oldest first; the samples are the last run's.
    assert saved.run_medians("system_diagnosis") == [m / 10 for m in range(8 - MAX_RUNS, 8)]
    assert saved.results[0].samples == [0.7] * 3
    assert json.loads(path.read_text())["runs"][-1]["medians"] == {"system_diagnosis": 0.7}


def test_runs_keep_their_measure_and_wall_figures_across_saves(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    for median in (1, 2, 3):
        solo = TimingResult(
            "system_diagnosis",
            [median / 10] * 3,
            measure="solo",
            wall_samples=[median / 5] * 3,
        )
        baseline = _baseline(commit="abc")
        baseline.results = [solo]
        save_baseline(path, baseline)
    saved = load_baseline(path, ID)
    # Read back from the file, each run still says what its median is on.
    assert saved.run_medians("system_diagnosis", "solo") == [0.1, 0.2, 0.3]
    assert saved.run_medians("system_diagnosis", "wall") == [0.2, 0.4, 0.6]
    assert saved.run_medians("system_diagnosis", "cpu") == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (("abc", False), ("def", False)),  # another commit
        (("abc", True), ("abc", True)),  # a dirty tree is not that commit's code
        (("abc", False), ("abc", True)),
        ((None, False), (None, False)),  # outside git nothing says the code is the same
    ],
)
def test_other_code_starts_the_runs_afresh(
    old: tuple[str | None, bool], new: tuple[str | None, bool]
) -> None:
    before = _baseline([0.1] * 3, commit=old[0], dirty=old[1])
    after = _baseline([0.3] * 3, commit=new[0], dirty=new[1])
    assert merged_runs(before, after) == [after.this_run()]
    assert merged_runs(None, after) == [after.this_run()]


def test_a_baseline_without_runs_is_one_run(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    data = _baseline([0.2] * 3).to_dict()
    del data["runs"]
    path.write_text(json.dumps(data))
    old = load_baseline(path, ID)
    assert old.runs == [] and old.commit is None
    assert old.run_medians("system_diagnosis") == []


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ({"medians": {}}, "'runs' is not a list"),
        ([{"created": "x"}], "run 1 needs 'medians'"),
        ([{"medians": {"a": 0.1}}, {"medians": {"a": -1}}], "run 2 needs 'medians'"),
        ([{"medians": {"a": "fast"}}], "run 1 needs 'medians'"),
        ([{"medians": {"a": 1e400}}], "run 1 needs 'medians'"),
    ],
)
def test_bad_runs_are_one_line(tmp_path: Path, runs: object, message: str) -> None:
    path = tmp_path / "b.json"
    data = _baseline().to_dict()
    data["runs"] = runs
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=f"^b.json: corrupt baseline: {message}"):
        load_baseline(path, ID, shown="b.json")


def test_code_version_reads_git_and_ignores_baselines(tmp_path: Path) -> None:
    assert code_version(tmp_path, []) == (None, False)

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.email=a@b.invalid", "-c", "user.name=a", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "b.json").write_text("{}\n")
    git("add", ".")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD")
    assert code_version(tmp_path, [tmp_path / "baselines"]) == (head, False)
    (tmp_path / "baselines" / "b.json").write_text("{}\n\n")
    (tmp_path / "untracked.py").write_text("")
    assert code_version(tmp_path, [tmp_path / "baselines"]) == (head, False)
    assert code_version(tmp_path, []) == (head, True)
    (tmp_path / "code.py").write_text("x = 2\n")
    assert code_version(tmp_path, [tmp_path / "baselines"]) == (head, True)


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
    assert baseline_relpath("tests/t.py::TestA::test_b[x-1.5]") == Path(
        "tests/t.py/TestA/test_b[x-1.5].json"
    )
    changed = baseline_relpath("tests/t.py::TestA::test_b[x/y z]")
    assert changed.parent == Path("tests/t.py/TestA")
    assert re.fullmatch(r"test_b\[x_y_z\]~[0-9a-f]{10}\.json", changed.name)
    assert re.fullmatch(
        r"__~[0-9a-f]{10}/up.py/test.json", baseline_relpath("../up.py::test").as_posix()
    )


NAMES = st.text(min_size=1, max_size=300).filter(lambda n: ":" not in n)


@given(st.lists(NAMES, min_size=2, max_size=2, unique=True))
def test_distinct_check_ids_never_share_a_file(names: list[str]) -> None:
    paths = {baseline_relpath(f"t.py::{name}") for name in names}
    assert len(paths) == 2
    for path in paths:
        assert all(len(part.encode()) <= 255 for part in path.parts)


def test_a_legacy_file_loads_only_for_its_own_check(tmp_path: Path) -> None:
    a, b = "t.py::test[a b]", "t.py::test[a/b]"  # one legacy file name: test[a_b].json
    assert legacy_relpath(a) == legacy_relpath(b) != baseline_relpath(a)
    legacy = tmp_path / "m" / legacy_relpath(a)
    save_baseline(legacy, Baseline(a, [TimingResult("x", [1.0, 1.1])], {}))
    assert find_baseline(tmp_path, "m", a) == (legacy, True)
    assert find_baseline(tmp_path, "m", b) == (None, False)
    own = tmp_path / "m" / baseline_relpath(a)
    save_baseline(own, Baseline(a, [TimingResult("x", [1.0, 1.1])], {}))
    assert find_baseline(tmp_path, "m", a) == (own, True)


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
