"""Schedules, named after the job they launch."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.defs.jobs import (
    calibration_job,
    daily_summary_job,
    history_job,
    reconcile_job,
    snapshot_job,
)
from flb_pipeline.defs.retention import retention_job_schedule

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

calibration_job_schedule = dg.ScheduleDefinition(
    name="calibration_job_schedule",
    job=calibration_job,
    cron_schedule="15 6 * * *",
    execution_timezone=TRADING_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refit the win-probability model every morning on the latest history.",
)

reconcile_job_schedule = dg.ScheduleDefinition(
    name="reconcile_job_schedule",
    job=reconcile_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Settlements and reconciliation keep running even while trading is blocked.",
)


@dg.schedule(
    job=daily_summary_job,
    cron_schedule="30 0 * * *",
    execution_timezone=TRADING_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Just after New York midnight: the summary of the day that just ended.",
)
def daily_summary_job_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """The partition of the previous New York day (the current one is still trading)."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(TRADING_TIMEZONE)).date()
    previous = (day - timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"daily-summary-{previous}", partition_key=previous)


SCHEDULES = [
    retention_job_schedule,
    history_job_schedule,
    snapshot_job_schedule,
    calibration_job_schedule,
    reconcile_job_schedule,
    daily_summary_job_schedule,
]
