"""Sensors, named after the job they launch."""

import time

import dagster as dg

from flb_pipeline.defs.jobs import trading_job
from flb_pipeline.defs.runs import reap_dead_runs

CYCLE_SECONDS = 30
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=trading_job,
    minimum_interval_seconds=CYCLE_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Launches one whole trading cycle per 30 s slot (run key = slot), never while the "
        "previous cycle is still running. The risk checks run inside that same run. Runs "
        "whose worker died are failed and their pool slots freed first."
    ),
)
def trading_job_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    for run_id in reap_dead_runs(context.instance):
        context.log.warning(f"run {run_id} had lost its worker: marked failed, slots freed")
    running = context.instance.get_run_records(
        dg.RunsFilter(job_name=trading_job.name, statuses=IN_FLIGHT), limit=1
    )
    if running:
        return dg.SkipReason(f"cycle {running[0].dagster_run.run_id} is still running")
    slot = int(time.time() // CYCLE_SECONDS)
    return dg.RunRequest(run_key=f"trading-cycle-{slot}")


SENSORS = [trading_job_sensor]
