"""REV's counts kept between sessions (pytest_aide.countcache), without valgrind."""

from __future__ import annotations

from pathlib import Path

from pytest_aide.countcache import CountCache, cache_root
from pytest_aide.measure.counts import Count


def _cache(root: Path, commit: str = "a" * 40, **changed: object) -> CountCache:
    given: dict = {"valgrind": "3.19.0", "measure": "instructions", "allocator": "malloc"}
    given["args"] = [f"{root}/tree/tests/test_x.py", "-p", "no:randomly"]
    given.update(changed)
    return CountCache(root / "cache", commit, root / "tree", **given)


def _counted(nodeid: str = "tests/test_x.py::test_a") -> list[Count]:
    return [Count(nodeid, "first", 8, {"Ir": 1234.5}), Count(nodeid, "second", 4, {"Ir": 99.0})]


def test_counts_come_back_in_their_order(tmp_path: Path) -> None:
    nodeid = "tests/test_x.py::test_a"
    _cache(tmp_path).put(nodeid, _counted())
    found = _cache(tmp_path).get(nodeid)
    assert found is not None
    assert [(c.label, c.calls, c.events) for c in found] == [
        ("first", 8, {"Ir": 1234.5}),
        ("second", 4, {"Ir": 99.0}),
    ]
    assert _cache(tmp_path).get("tests/test_x.py::test_b") is None


def test_anything_that_moves_a_count_is_in_the_key(tmp_path: Path) -> None:
    nodeid = "tests/test_x.py::test_a"
    _cache(tmp_path).put(nodeid, _counted())
    assert _cache(tmp_path, commit="b" * 40).get(nodeid) is None
    assert _cache(tmp_path, measure="cycles").get(nodeid) is None
    assert _cache(tmp_path, valgrind="3.22.0").get(nodeid) is None
    assert _cache(tmp_path, allocator="pymalloc").get(nodeid) is None
    assert _cache(tmp_path, args=["-p", "no:randomly"]).get(nodeid) is None
    # The checkout's own path is not: REV's worktree is a new temporary directory each time.
    moved = CountCache(
        tmp_path / "cache",
        "a" * 40,
        tmp_path / "elsewhere",
        valgrind="3.19.0",
        measure="instructions",
        allocator="malloc",
        args=[f"{tmp_path}/elsewhere/tests/test_x.py", "-p", "no:randomly"],
    )
    assert moved.get(nodeid) is not None


def test_a_count_with_a_problem_is_not_kept(tmp_path: Path) -> None:
    nodeid = "tests/test_x.py::test_a"
    counts = _counted()
    counts[1].problem = "raised while counted: ValueError"
    _cache(tmp_path).put(nodeid, counts)
    assert _cache(tmp_path).get(nodeid) is None


def test_a_cache_that_cannot_be_written_or_read_is_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unusable = CountCache(
        blocker / "cache", "a" * 40, tmp_path, valgrind="3", measure="m", allocator="a", args=[]
    )
    unusable.put("t::x", _counted("t::x"))  # no error
    assert unusable.get("t::x") is None
    cache = _cache(tmp_path)
    cache.put("t::y", _counted("t::y"))
    (entry,) = (tmp_path / "cache").glob("*/*.json")
    entry.write_text("{not json")
    assert cache.get("t::y") is None


def test_where_the_cache_lives(tmp_path: Path) -> None:
    assert cache_root("none", tmp_path, {}) is None
    assert cache_root("NONE ", tmp_path, {}) is None
    assert cache_root("kept", tmp_path, {}) == tmp_path / "kept"
    assert cache_root(None, tmp_path, {"XDG_CACHE_HOME": "/x"}) == Path("/x/pytest-aide/counts")
    assert cache_root("", tmp_path, {}) == Path.home() / ".cache" / "pytest-aide" / "counts"


def test_entries_unused_for_a_month_are_removed_when_the_cache_is_written(
    tmp_path: Path,
) -> None:
    import os
    import time

    cache = _cache(tmp_path)
    cache.put("t::old", _counted("t::old"))
    cache.put("t::used", _counted("t::used"))
    month_ago = time.time() - 31 * 86400
    for entry in (tmp_path / "cache").glob("*/*.json"):
        os.utime(entry, (month_ago, month_ago))
    assert cache.get("t::used") is not None  # reading it marks it used
    _cache(tmp_path).put("t::new", _counted("t::new"))
    assert _cache(tmp_path).get("t::old") is None
    assert _cache(tmp_path).get("t::used") is not None
    assert _cache(tmp_path).get("t::new") is not None
