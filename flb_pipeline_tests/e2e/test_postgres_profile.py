"""The production profile against a real PostgreSQL server: dagster.postgres.yaml's run,
event-log and schedule storage with the queued run coordinator. A trading run, a sensor
tick and a schedule tick all land in PostgreSQL."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from flb_pipeline_tests.conftest import definitions_for, run_job
from flb_pipeline_tests.e2e.harness import PROJECT_ROOT

SERVER_URL = os.environ.get("FLB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICK_WAIT_S = 150
DRIVER_SCHEME = "postgresql+psycopg2://"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    name = f"flb_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(SERVER_URL)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def production_home(tmp_path: Path, postgres_url: str, monkeypatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # name the driver: SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, dagster-postgres
    # ships psycopg2
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url.replace("postgresql://", DRIVER_SCHEME))
    return home


def wait_for_group_to_exit(group: int, timeout_s: float = 30) -> None:
    """Every process of `group` gone (the daemon's code server outlives it briefly); what is
    left after `timeout_s` is killed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(group, signal.SIGKILL)


def ticks(instance: dg.DagsterInstance, name: str) -> list:
    """The recorded ticks of one sensor or schedule (none before its first evaluation)."""
    states = [s for s in instance.all_instigator_state() if s.instigator_name == name]
    return [
        tick
        for state in states
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)
    ]


@pytest.mark.e2e
def test_a_trading_run_a_sensor_tick_and_a_schedule_tick_land_in_postgres(
    production_home, postgres_url, trading_sim, trading_db
):
    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    result = run_job(definitions_for(trading_sim.url, trading_db), "trading_job", instance=instance)
    assert result.success
    with psycopg2.connect(postgres_url) as con, con.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", [result.run_id])
        assert cursor.fetchone() == ("SUCCESS",)

    env = {**os.environ, "FLB_DB_PATH": str(trading_db), "FLB_EXCHANGE_URL": trading_sim.url}
    workspace = ["-w", str(PROJECT_ROOT / "workspace.yaml")]
    dagster = [sys.executable, "-m", "dagster"]
    started = subprocess.run(
        [*dagster, "schedule", "start", "snapshot_job_schedule", *workspace],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", *workspace],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its code server goes down with it, not left behind
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TICK_WAIT_S
        while time.monotonic() < deadline:
            if ticks(instance, "kill_switch_trip_sensor") and ticks(
                instance, "snapshot_job_schedule"
            ):
                break
            time.sleep(2)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(30)
        wait_for_group_to_exit(daemon.pid)
    (schedule_tick, *_) = ticks(instance, "snapshot_job_schedule")
    assert schedule_tick.status.value in {"SUCCESS", "STARTED"}
    assert ticks(instance, "kill_switch_trip_sensor")[0].status.value in {"SKIPPED", "SUCCESS"}
    launched = instance.get_runs(dg.RunsFilter(job_name="snapshot_job"))
    assert launched and launched[0].tags.get("dagster/schedule_name") == "snapshot_job_schedule"
