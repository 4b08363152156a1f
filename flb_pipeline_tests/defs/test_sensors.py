"""The sensors, evaluated through Dagster's sensor context."""

import shutil
import threading
import time
from pathlib import Path

import dagster as dg

from flb_pipeline.defs.sensors import CYCLE_SECONDS, trading_job_sensor
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import definitions_for, run_job
from flb_pipeline_tests.defs import crash_cycle
from flb_pipeline_tests.defs.test_trading import exchange_orders

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def local_order_states(db_path: Path) -> list[tuple[str, str]]:
    with Store(db_path).connect() as con:
        return con.execute("SELECT client_order_id, status FROM orders").fetchall()


def test_one_run_request_per_cycle_slot_with_a_run_key():
    with dg.instance_for_test() as instance:
        request = trading_job_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    slot = int(time.time() // CYCLE_SECONDS)
    assert request.run_key in {f"trading-cycle-{slot}", f"trading-cycle-{slot - 1}"}


def test_no_new_cycle_while_one_is_running():
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="trading_job", run_id="running-cycle", status=dg.DagsterRunStatus.STARTED
            )
        )
        skip = trading_job_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(skip, dg.SkipReason) and "running-cycle" in skip.skip_message


def test_a_finished_cycle_does_not_hold_back_the_next():
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(job_name="trading_job", run_id="done", status=dg.DagsterRunStatus.SUCCESS)
        )
        assert isinstance(
            trading_job_sensor(dg.build_sensor_context(instance=instance)), dg.RunRequest
        )


def test_with_only_the_sensors_on_by_default_a_killed_runs_pool_slot_goes_to_the_next_run(
    trading_sim, trading_control, trading_db, tmp_path, monkeypatch
):
    """A trading run launched directly (the trading sensor is off by default) is SIGKILLed
    mid-order: still STARTED, holding the duckdb pool slot. One tick of the sensors that are
    on by default fails it and frees the slot, so the next run that writes the store (a
    reconcile_job) gets the slot and completes, resolving the killed run's order."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # pool limit 1
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("FLB_EXCHANGE_URL", trading_sim.url)
    monkeypatch.setenv("FLB_DB_PATH", str(trading_db))
    crash_cycle.kill_mid_order(trading_control, lambda: bool(exchange_orders(trading_control)))
    instance = dg.DagsterInstance.get()
    (killed,) = instance.get_runs()
    assert killed.status == dg.DagsterRunStatus.STARTED
    assert in_progress(instance) == [killed.run_id]  # the run queue counts it as holding the pool

    defs = definitions_for(trading_sim.url, trading_db)
    on_by_default = [
        sensor for sensor in defs.sensors
        if sensor.default_status == dg.DefaultSensorStatus.RUNNING
    ]  # fmt: skip
    assert trading_job_sensor.name not in {sensor.name for sensor in on_by_default}
    for sensor in on_by_default:
        with dg.build_sensor_context(
            instance=instance, definitions=defs, resources=defs.resources
        ) as context:
            sensor.evaluate_tick(context)

    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert in_progress(instance) == []
    finished: list[dg.ExecuteInProcessResult] = []
    runner = threading.Thread(
        target=lambda: finished.append(run_job(defs, "reconcile_job", instance=instance)),
        daemon=True,
    )
    runner.start()
    runner.join(60)
    assert finished and finished[0].success, "the next run did not get the slot within a minute"
    ((cid, status),) = local_order_states(trading_db)
    (order,) = exchange_orders(trading_control)
    assert (cid, status) == (order["client_order_id"], order["status"])


def in_progress(instance: dg.DagsterInstance) -> list[str]:
    """Runs the run queue counts as holding their pools: those not yet finished."""
    running = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=running))
    return [run.run_id for run in runs]
