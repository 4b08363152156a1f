"""Sensors: the trading sensor, named after the job it launches, and the dead-run reaper."""

import time

import dagster as dg

from flb_pipeline.defs.jobs import trading_job
from flb_pipeline.defs.runs import reap_dead_runs

CYCLE_SECONDS = 30
REAP_SECONDS = 30
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
    for run in reap_dead_runs(context.instance):
        context.log.warning(f"{run.job_name} run {run.run_id} {run.reason}")
    running = context.instance.get_run_records(
        dg.RunsFilter(job_name=trading_job.name, statuses=IN_FLIGHT), limit=1
    )
    if running:
        return dg.SkipReason(f"cycle {running[0].dagster_run.run_id} is still running")
    slot = int(time.time() // CYCLE_SECONDS)
    return dg.RunRequest(run_key=f"trading-cycle-{slot}")


@dg.sensor(
    minimum_interval_seconds=REAP_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Fails every run, of any job, whose worker process died (kill -9, OOM, a host "
        "restart) and frees the DuckDB pool slots it held, so the next run that writes the "
        "store is not queued behind a dead one. Launches nothing."
    ),
)
def dead_run_reaper_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    reaped = reap_dead_runs(context.instance)
    for run in reaped:
        context.log.warning(f"{run.job_name} run {run.run_id} {run.reason}")
    return dg.SkipReason(f"{len(reaped)} dead run(s) failed and their pool slots freed")


SENSORS = [trading_job_sensor, dead_run_reaper_sensor]
