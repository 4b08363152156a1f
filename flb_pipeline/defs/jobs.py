"""Jobs (DESIGN §8). Every job runs in-process (one DuckDB writer, and no per-step spawn cost)
except `backtest_job`, whose fold steps run side by side in their own processes: they read
Parquet and write files, and only its first and last steps touch the store (see
docs/ARCHITECTURE.md, "Backtest", for running it on the k8s or celery executor)."""

import dagster as dg

from flb_pipeline.defs.assets.backtest import threshold_backtest
from flb_pipeline.defs.assets.candidates import trade_candidates
from flb_pipeline.defs.assets.decisions import correlation_groups, strategy_thresholds
from flb_pipeline.defs.assets.execution import order_submissions
from flb_pipeline.defs.assets.ingest import market_snapshots, settled_history
from flb_pipeline.defs.assets.model import win_probability_model
from flb_pipeline.defs.assets.portfolio import closed_trades, positions
from flb_pipeline.defs.assets.summary import daily_metrics_summary
from flb_pipeline.defs.control import halt_job, resume_job
from flb_pipeline.defs.retention import retention_job

MAX_RUNTIME_TAG = "dagster/max_runtime_seconds"
TRADING_MAX_RUNTIME_S = 600
"""A cycle takes seconds; one still running after ten minutes is hung, and run monitoring
fails it so it cannot hold the DuckDB pool slot for ever."""

snapshot_job = dg.define_asset_job(
    "snapshot_job",
    selection=dg.AssetSelection.assets(market_snapshots),
    description="One scan of the open-market universe and its data-quality checks.",
)

history_job = dg.define_asset_job(
    "history_job",
    selection=dg.AssetSelection.assets(settled_history),
    description="Fetch newly settled markets and their pre-close prices.",
)

calibration_job = dg.define_asset_job(
    "calibration_job",
    selection=dg.AssetSelection.assets(win_probability_model),
    description="Fit, evaluate and version the win-probability model.",
)

trading_job = dg.define_asset_job(
    "trading_job",
    selection=dg.AssetSelection.assets(
        market_snapshots,
        correlation_groups,
        strategy_thresholds,
        trade_candidates,
        order_submissions,
        positions,
        closed_trades,
    ),
    description=(
        "One trading cycle in one run: snapshot -> candidates -> blocking risk checks -> "
        "orders -> positions. A failed check stops the orders of this run."
    ),
    tags={MAX_RUNTIME_TAG: str(TRADING_MAX_RUNTIME_S)},
)

reconcile_job = dg.define_asset_job(
    "reconcile_job",
    selection=dg.AssetSelection.assets(positions, closed_trades),
    description="Pull fills, settlements and positions from the exchange; rebuild the ledger.",
)

daily_summary_job = dg.define_asset_job(
    "daily_summary_job",
    selection=dg.AssetSelection.assets(daily_metrics_summary),
    description="The daily metrics summary of one New York trading day (a partition).",
)

backtest_job = dg.define_asset_job(
    "backtest_job",
    selection=dg.AssetSelection.assets(threshold_backtest),
    executor_def=dg.multiprocess_executor,
    description=(
        "Walk-forward threshold search: history to Parquet, one step per fold (in parallel),"
        " one merge into the store. Adopts thresholds only if they pass every test."
    ),
)

JOBS = [
    snapshot_job,
    history_job,
    calibration_job,
    trading_job,
    reconcile_job,
    daily_summary_job,
    halt_job,
    resume_job,
    retention_job,
    backtest_job,
]
