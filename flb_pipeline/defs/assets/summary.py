"""daily_metrics_summary: one partition per New York trading day, JSON + report + plots."""

from typing import Any

import dagster as dg

from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.core.modes import default_execution
from flb_pipeline.defs.assets.portfolio import closed_trades
from flb_pipeline.defs.daily_summary import build_daily_summary
from flb_pipeline.defs.resources import ExchangeResource, ReportsResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.reports.daily import DailyReport, write_daily_report
from flb_pipeline.reports.exports import jsonable

DAILY_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date="2025-01-01", timezone=TRADING_TIMEZONE, end_offset=1
)


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    deps=[closed_trades],
    pool=DUCKDB_POOL,
    group_name="reporting",
    kinds={"duckdb", "json"},
    description="Every metric of one trading day: P&L, buckets, attribution, slippage, health.",
)
def daily_metrics_summary(
    context: dg.AssetExecutionContext,
    exchange: ExchangeResource,
    store: StoreResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    window = context.partition_time_window
    execution = default_execution(exchange.exchange, exchange.execution)
    with store.store().connect() as con:
        summary = build_daily_summary(
            con, day=context.partition_key, start=window.start, end=window.end,
            execution=execution, timezone=TRADING_TIMEZONE,
        )  # fmt: skip
    report = write_daily_report(
        summary.document,
        summary.cumulative_pnl,
        summary.fill_slippage_bps,
        reports.exports(),
        reports.reports(),
    )
    return dg.MaterializeResult(metadata=_metadata(summary.document, report))


def _metadata(document: dict[str, Any], report: DailyReport) -> dict[str, dg.MetadataValue]:
    plain = jsonable(document)
    trading, health = plain["trading"], plain["health"]
    numbers = {
        "trades": trading["trades"],
        "net_pnl": trading["net_pnl"],
        "net_bps": trading["net_bps"],
        "fees": trading["fees"],
        "api_p50_ms": health["api"]["p50_ms"],
        "api_p95_ms": health["api"]["p95_ms"],
        "api_error_rate": health["api"]["error_rate"],
        "scans_per_hour": health["scans"]["scans_per_hour"],
        "quote_age_p50_s": health["scans"]["quote_age_p50_s"],
        "order_fill_rate": health["orders"]["fill_rate"],
    }
    metadata: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.float(float(value))
        for name, value in numbers.items()
        if value is not None
    }
    metadata["note"] = dg.MetadataValue.text(document["note"] or "trades closed")
    metadata["summary_json"] = dg.MetadataValue.path(str(report.json_path.resolve()))
    metadata["report_html"] = dg.MetadataValue.path(str(report.html_path.resolve()))
    metadata["report"] = dg.MetadataValue.md(report.markdown)
    for name, path in report.plots.items():
        metadata[f"plot_{name}"] = dg.MetadataValue.path(str(path.resolve()))
    return metadata
