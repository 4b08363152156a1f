"""Retention: a daily job moves snapshots and groups older than the window to Parquet."""

from datetime import timedelta

import dagster as dg

from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.defs.resources import ClockResource, StoreResource
from flb_pipeline.defs.runs import max_runtime
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.store.archive import ARCHIVED_TABLES, archive_day, days_before

DEFAULT_RETENTION_DAYS = 14.0


class RetentionConfig(dg.Config):
    """Scans whose UTC day ended more than `retention_days` ago leave the live tables."""

    retention_days: float = DEFAULT_RETENTION_DAYS


@dg.op(pool=DUCKDB_POOL, description="Move old scans' snapshots and groups to Parquet.")
def archive_old_scans(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    store: StoreResource,
    clock: ClockResource,
) -> dg.Output[int]:
    cutoff = clock.now() - timedelta(days=config.retention_days)
    moved = {table: 0 for table in ARCHIVED_TABLES}
    root = store.store().archive_dir
    with store.store().connect() as con:
        days = days_before(con, cutoff)
        for day in days:
            for table in ARCHIVED_TABLES:
                moved[table] += archive_day(con, table, day, root).rows_moved
    context.log.info(f"archived {len(days)} day(s) to {root}: {moved}")
    return dg.Output(
        sum(moved.values()),
        metadata={
            "days": dg.MetadataValue.json([day.isoformat() for day in days]),
            "rows_moved": dg.MetadataValue.json(moved),
            "archive": dg.MetadataValue.path(str(root.resolve())),
            "cutoff": cutoff.isoformat(),
        },
    )


@dg.job(
    description="Snapshots and groups older than the retention window move to Parquet.",
    tags=max_runtime(3600),
)
def retention_job() -> None:
    archive_old_scans()


retention_job_schedule = dg.ScheduleDefinition(
    name="retention_job_schedule",
    job=retention_job,
    cron_schedule="40 2 * * *",
    execution_timezone=TRADING_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night: keep the live tables to the retention window (14 days).",
)
