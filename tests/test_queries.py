"""Queries per call: SQL statements counted on sqlite3 connections and SQLAlchemy engines."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.measure.queries import QueryError, QueryWatch, resolve_databases, statement_shape
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.results import QueryResult, result_from_dict
from pytest_aide.runner import CheckRun, RunError, run_check

SCHEMA = Path(__file__).parent.parent / "pytest_aide" / "report" / "report.schema.json"


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.executemany("INSERT INTO item VALUES (?, ?, ?)", [(i, f"n{i}", i * 1.5) for i in range(50)])
    db.commit()
    return db


@pytest.mark.parametrize(
    ("sql", "shape"),
    [
        ("SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"),
        ("SELECT  a,\n b FROM t WHERE n = 'O''Brien'", "SELECT a, b FROM t WHERE n = ?"),
        ("SELECT x FROM t WHERE id IN (1, 2, 3)", "SELECT x FROM t WHERE id IN (?, ...)"),
        ("SELECT t2.c FROM t2 WHERE v > 1.5e3", "SELECT t2.c FROM t2 WHERE v > ?"),
    ],
)
def test_statements_group_by_shape(sql: str, shape: str) -> None:
    assert statement_shape(sql) == shape


def test_an_n_plus_one_shows_as_one_statement_run_n_times() -> None:
    db = _db()

    def n_plus_one() -> list:
        ids = [row[0] for row in db.execute("SELECT id FROM item WHERE id < 10")]
        return [db.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone() for i in ids]

    watch = QueryWatch("w", resolve_databases([db]))
    watch.start()
    for _ in range(3):
        n_plus_one()
    result = watch.stop(3)
    assert (result.statements, result.calls, result.per_call, result.distinct) == (33, 3, 11, 2)
    assert result.top[0] == {"statement": "SELECT name FROM item WHERE id = ?", "count": 30}
    assert result.metrics() == {"queries": 11.0}
    assert "10x SELECT name FROM item WHERE id = ?" in result.summary()
    db.execute("SELECT 1")  # the trace is gone after stop: still 33
    assert watch.stop(1).statements == 33


def test_sqlalchemy_engines_are_counted_through_their_events() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(sqlalchemy.text("INSERT INTO t VALUES (1, 'a'), (2, 'b')"))

    def batched() -> list:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT v FROM t WHERE id IN (1, 2)")).all()

    (watched,) = resolve_databases([engine])
    assert watched.kind == "sqlalchemy"
    plan = TimingPlan(iterations=4, warmup=0, min_time=0)
    _, queries = run_check(CheckRun("e", batched, plan=plan, databases=[watched]))
    assert isinstance(queries, QueryResult)
    assert (queries.statements, queries.calls, queries.per_call) == (4, 4, 1.0)
    assert queries.top == [{"statement": "SELECT v FROM t WHERE id IN (?, ...)", "count": 4}]
    with engine.connect() as conn:  # the listener is removed afterwards
        conn.execute(sqlalchemy.text("SELECT 1"))
    assert (
        sqlalchemy.event.contains(engine, "before_cursor_execute", QueryWatch._on_execute) is False
    )


def test_a_timed_check_counts_its_statements_in_untimed_calls_after_the_samples() -> None:
    db = _db()

    def two_queries() -> None:
        db.execute("SELECT count(*) FROM item").fetchone()
        db.execute("SELECT max(price) FROM item").fetchone()

    # The timing ran many more calls (calibration, warmup, samples); only 5 were traced.
    plan = TimingPlan(iterations=5, warmup=1, min_time=0)
    timing, queries = run_check(
        CheckRun("t", two_queries, plan=plan, databases=[*resolve_databases([db])])
    )
    assert (queries.statements, queries.calls, queries.per_call) == (10, 5, 2.0)
    assert timing.iterations == 5


SHARED_CONNECTION_LOAD = """
import sqlite3
from pytest_aide.measure.load import LoadPlan
from pytest_aide.measure.queries import resolve_databases
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.runner import CheckRun, Load, run_check

db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
db.executemany("INSERT INTO item VALUES (?, ?)", [(i, f"n{i}") for i in range(50)])

def one_read():
    db.execute("SELECT name FROM item WHERE id = ?", (3,)).fetchone()

run = CheckRun(
    "l", one_read, plan=TimingPlan(iterations=7), databases=resolve_databases([db]),
    load=Load(LoadPlan(2, requests=20000), "thread"),
)
result, queries = run_check(run)
print("completed", result.completed, "counted", queries.statements, "over", queries.calls)
"""


def test_a_load_on_a_shared_connection_is_counted_after_it_one_call_at_a_time(
    pytester: pytest.Pytester,
) -> None:
    # Traced while two threads share it, a sqlite3 connection deadlocks: the trace
    # callback waits for the GIL while the other thread holds it, waiting for the
    # connection. So the statements are counted in calls made one at a time afterwards.
    script = pytester.makepyfile(shared_load=SHARED_CONNECTION_LOAD)
    result = pytester.run(sys.executable, str(script), timeout=300)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["completed 20000 counted 7 over 7"])


def test_a_connection_of_another_thread_is_one_line() -> None:
    made: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: made.append(sqlite3.connect(":memory:")))
    thread.start()
    thread.join()
    run = CheckRun(
        "x",
        lambda: None,
        plan=TimingPlan(iterations=1, warmup=0),
        databases=resolve_databases(made),
    )
    with pytest.raises(
        RunError,
        match=r"databases: 'sqlite3.Connection': cannot trace .*check_same_thread=False",
    ):
        run_check(run)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "os.path:join",
            "'os.path:join' is not a database to count queries on: join is not a sqlite3",
        ),
        ("no_such_module_q:db", "cannot import 'no_such_module_q'"),
        ("sqlite3", "expected 'package.module:attribute', got 'sqlite3'"),
    ],
)
def test_what_is_not_a_database_is_one_line(spec: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        resolve_databases([spec])
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_result_survives_its_dict_and_the_schema_describes_it() -> None:
    result = QueryResult("q", 12, 4, 2, [{"statement": "SELECT ?", "count": 8}], ["m:db"])
    data = json.loads(json.dumps(result.to_dict()))
    assert result_from_dict(data) == result
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(data, {"$defs": schema["$defs"], "$ref": "#/$defs/result"})


STORE_MODULE = """
import sqlite3

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
DB.executemany("INSERT INTO item VALUES (?, ?)", [(i, f"n{i}") for i in range(20)])
DB.commit()
NOT_A_DB = {"host": "localhost"}

def batched():
    return DB.execute("SELECT id, name FROM item WHERE id < 10").fetchall()

def n_plus_one():
    ids = [r[0] for r in DB.execute("SELECT id FROM item WHERE id < 10")]
    return [DB.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone() for i in ids]
"""

SCENARIOS = """
[scenarios.batched]
target = "storemod:batched"
iterations = 5
databases = ["storemod:DB"]
thresholds = { queries_max = 2 }

[scenarios.n_plus_one]
target = "storemod:n_plus_one"
iterations = 5
databases = ["storemod:DB"]
thresholds = { queries_max = 2 }

[scenarios.under_load]
target = "storemod:batched"
load = { concurrency = 2, requests = 30 }
databases = ["storemod:DB"]
thresholds = { queries_max = 1 }

[scenarios.not_a_database]
target = "storemod:batched"
databases = ["storemod:NOT_A_DB"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(storemod=STORE_MODULE)
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "db.toml").write_text(SCENARIOS)
    pytester.syspathinsert()
    return pytester


def test_scenarios_gate_their_queries_per_call(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "scenarios")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["n_plus_one: queries 11 per call > 2 per call"])
    result.stdout.fnmatch_lines(
        [
            "*scenarios/db.toml: scenario 'not_a_database': key 'databases': "
            "'storemod:NOT_A_DB' is not a database to count queries on: dict is not*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "batched: 1 queries per call (5 statements over 5 calls, 1 distinct): "
            "1x SELECT id, name FROM item WHERE id < ?",
            "n_plus_one: 11 queries per call (55 statements over 5 calls, 2 distinct): "
            "10x SELECT name FROM item WHERE id = ?; 1x SELECT id FROM item WHERE id < ?",
            "under_load: 1 queries per call (10 statements over 10 calls, 1 distinct)*",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    markdown = (project.path / ".aide" / "report.md").read_text()
    assert "## SQL queries" in markdown
    assert "| `n_plus_one` | `SELECT name FROM item WHERE id = ?` | 10 | 50 |" in markdown
    page = (project.path / ".aide" / "report.html").read_text()
    assert 'data-chart="queries"' in page and "11 SQL statements per call" in page


MARKED = """
import pytest
from storemod import DB, n_plus_one, batched

@pytest.mark.aide(databases=DB, queries_max=2)
def test_batched(aide_timer):
    aide_timer(batched, iterations=4)

@pytest.mark.aide(databases=["storemod:DB"], queries_max=2)
def test_n_plus_one(aide_timer):
    aide_timer(n_plus_one, iterations=4)

@pytest.mark.aide(databases=[object()])
def test_not_a_database(aide_timer):
    aide_timer(batched)
"""


def test_the_marker_names_databases_for_the_tests_measurements(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED)
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "test_marked.py")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["test_n_plus_one: queries 11 per call > 2 per call"])
    result.stdout.fnmatch_lines(
        [
            "*test_marked.py::test_not_a_database: @pytest.mark.aide: databases: "
            "'object' is not a database*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_statements_per_call_are_kept_in_baselines_and_a_rise_regresses(
    project: pytest.Pytester,
) -> None:
    one = '[scenarios.reads]\ntarget = "storemod:{}"\niterations = 3\ndatabases = ["storemod:DB"]\n'
    (project.path / "scenarios" / "db.toml").write_text(one.format("batched"))
    args = ("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0", "scenarios")
    project.runpytest(*args, "--aide-save-baseline").assert_outcomes(passed=1)
    (saved,) = (project.path / "baselines").rglob("reads.json")
    kinds = [r["kind"] for r in json.loads(saved.read_text())["results"]]
    assert kinds == ["timing", "queries"]
    (project.path / "scenarios" / "db.toml").write_text(one.format("n_plus_one"))
    result = project.runpytest(*args, "--aide-tolerance", "1000%")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["reads: regressed +1000.0 % queries vs baseline of *, tolerance 3 %"]
    )
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    (queries,) = [c for c in report["checks"][0]["comparisons"] if c["measure"] == "queries"]
    assert queries["baseline_median"] == 1 and queries["ratio"] == 11
    new = project.path / ".aide" / "report.json"
    compared = project.run(
        sys.executable, "-m", "pytest_aide.cli", "compare", str(saved.parent), str(new)
    )
    compared.stdout.fnmatch_lines(["*reads*queries*"])


def test_results_come_back_from_xdist_workers(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "-n", "2", "scenarios")
    result.assert_outcomes(passed=2, failed=2)
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    per_call = {
        c["id"].split("::")[1]: r["per_call"]
        for c in report["checks"]
        for r in c["results"]
        if r["kind"] == "queries"
    }
    assert per_call == {"batched": 1, "n_plus_one": 11, "under_load": 1}
