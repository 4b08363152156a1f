"""Operator faults: a store another process holds, or one that cannot be a store. Every `flb`
command answers with one clear line and a non-zero exit, never a traceback; a halt still takes
effect; a Dagster run on an unusable store fails before any step, with the same one line."""

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from flb_pipeline.defs import control
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import QUIET, definitions_for

FLB = str(Path(sys.executable).parent / "flb")
SHORT_LOCK_WAIT = {"FLB_CLI_LOCK_WAIT_S": "0.5"}


@pytest.fixture
def locked_store(tmp_path):
    """A store another process holds open read-write, as a long Dagster run would."""
    path = tmp_path / "flb.duckdb"
    with Store(path).connect():
        pass
    script = textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep(120)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield path
    holder.kill()
    holder.wait()


def flb(*args: str, db_path: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLB_")}
    environment.update(FLB_DB_PATH=str(db_path), DAGSTER_HOME=str(cwd / "home"), **env)
    return subprocess.run(
        [FLB, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "command",
    [["status"], ["report", "--day", "2026-03-02"], ["resume", "--reset", "slippage"], ["demo"]],
    ids=["status", "report", "resume", "demo"],
)
def test_locked_store_is_one_line_naming_the_file_and_the_lock(locked_store, tmp_path, command):
    result = flb(*command, db_path=locked_store, cwd=tmp_path, **SHORT_LOCK_WAIT)
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"flb {command[0]}: ")
    assert str(locked_store) in line and "lock" in line and "PID" in line
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flb.duckdb"]  # nothing moved aside


def test_halt_on_a_locked_store_is_in_force_and_warns_once(locked_store, tmp_path):
    result = flb("halt", "--reason", "fed day", db_path=locked_store, cwd=tmp_path,
                 FLB_EXCHANGE="demo", **SHORT_LOCK_WAIT)  # fmt: skip
    assert result.returncode == 0
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: the database is locked; the halt is in force")
    assert control.halt_state(Store(locked_store)).reason == "fed day"


def test_resume_on_a_locked_store_changes_nothing(locked_store, tmp_path):
    flb("halt", db_path=locked_store, cwd=tmp_path, FLB_EXCHANGE="demo", **SHORT_LOCK_WAIT)
    result = flb("resume", db_path=locked_store, cwd=tmp_path, FLB_EXCHANGE="demo",
                 **SHORT_LOCK_WAIT)  # fmt: skip
    assert result.returncode != 0 and "lock" in result.stderr
    assert control.halt_state(Store(locked_store)) is not None  # the halt stays in force


def failed_run_reason(result: dg.ExecuteInProcessResult) -> str:
    """The innermost cause of the run's failure: what an operator reads first in the UI."""
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


@pytest.mark.parametrize("kind", ["missing directory", "directory", "not a database"])
def test_a_run_on_an_unusable_store_fails_with_one_line_naming_the_path(simulator, tmp_path, kind):
    path = {
        "missing directory": tmp_path / "no-such-dir" / "flb.duckdb",
        "directory": tmp_path,
        "not a database": tmp_path / "notes.duckdb",
    }[kind]
    if kind == "not a database":
        path.write_text("these are my notes, not a DuckDB database\n" * 100)
    job = definitions_for(simulator.url, path).resolve_job_def("snapshot_job")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(run_config=QUIET, instance=instance, raise_on_error=False)
    assert not result.success
    reason = failed_run_reason(result)
    logged = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is None and entry.level == logging.ERROR
    ]
    (line,) = logged  # one clear line in the run's log, the failure's own reason
    assert reason == f"{dg.Failure.__module__}.Failure: {line}"
    assert "\n" not in reason and str(path) in reason
    assert {
        "missing directory": "does not exist",
        "directory": "Is a directory",
        "not a database": "not a valid DuckDB database file",
    }[kind] in reason
    assert not (tmp_path / "no-such-dir").exists()
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]
