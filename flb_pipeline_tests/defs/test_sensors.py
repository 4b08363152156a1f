"""The trading sensor, evaluated through Dagster's sensor context."""

import time

import dagster as dg

from flb_pipeline.defs.sensors import CYCLE_SECONDS, trading_job_sensor


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
