"""The one `Definitions` object of the `flb_pipeline` code location."""

import dagster as dg

from flb_pipeline.defs.alerts import ALERT_SENSORS, AlertsResource
from flb_pipeline.defs.assets.backtest import threshold_backtest
from flb_pipeline.defs.assets.candidates import trade_candidates
from flb_pipeline.defs.assets.decisions import correlation_groups, strategy_thresholds
from flb_pipeline.defs.assets.execution import order_submissions
from flb_pipeline.defs.assets.ingest import market_snapshots, settled_history
from flb_pipeline.defs.assets.model import win_probability_model
from flb_pipeline.defs.assets.portfolio import closed_trades, positions
from flb_pipeline.defs.assets.summary import daily_metrics_summary
from flb_pipeline.defs.checks import RISK_CHECKS
from flb_pipeline.defs.jobs import JOBS
from flb_pipeline.defs.quality_checks import SNAPSHOT_CHECKS
from flb_pipeline.defs.resources import (
    ClockResource,
    ExchangeResource,
    ReportsResource,
    RiskResource,
    StoreResource,
    TradingResource,
    exchange_resource,
)
from flb_pipeline.defs.schedules import SCHEDULES
from flb_pipeline.defs.sensors import SENSORS
from flb_pipeline.settings import Settings


def build_definitions(
    settings: Settings,
    *,
    exchange: ExchangeResource | None = None,
    store: StoreResource | None = None,
    risk: RiskResource | None = None,
    trading: TradingResource | None = None,
    reports: ReportsResource | None = None,
    alerts: AlertsResource | None = None,
) -> dg.Definitions:
    """Definitions wired to one deployment's settings; tests may hand in tuned resources."""
    exchange = exchange or exchange_resource(settings)
    clock_source = "exchange" if exchange.exchange == "sim" else "system"
    return dg.Definitions(
        assets=[
            market_snapshots,
            settled_history,
            win_probability_model,
            correlation_groups,
            strategy_thresholds,
            trade_candidates,
            order_submissions,
            positions,
            closed_trades,
            daily_metrics_summary,
            threshold_backtest,
        ],
        asset_checks=[*SNAPSHOT_CHECKS, *RISK_CHECKS],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=[*SENSORS, *ALERT_SENSORS],
        resources={
            "store": store or StoreResource(db_path=settings.db_path),
            "exchange": exchange,
            "clock": ClockResource(exchange=exchange, source=clock_source),
            "risk": risk or RiskResource(),
            "trading": trading or TradingResource(),
            "reports": reports
            or ReportsResource(exports_dir=settings.exports_dir, reports_dir=settings.reports_dir),
            "alerts": alerts or AlertsResource(webhook_url=settings.alert_webhook_url),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
