"""Schedules, named after the job they launch."""

import dagster as dg

from flb_pipeline.defs.jobs import history_job, snapshot_job

history_job_schedule = dg.ScheduleDefinition(
    name="history_job_schedule",
    job=history_job,
    cron_schedule="*/30 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Settled history every 30 minutes (incremental).",
)

snapshot_job_schedule = dg.ScheduleDefinition(
    name="snapshot_job_schedule",
    job=snapshot_job,
    cron_schedule="* * * * *",
    description="A snapshot every minute when no trading cycle is running them.",
)

SCHEDULES = [history_job_schedule, snapshot_job_schedule]
