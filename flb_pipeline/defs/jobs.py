"""Jobs. Every job runs in-process (one DuckDB writer, and no per-step spawn cost) except
`backtest_job`, whose fold steps run side by side in their own processes: they read Parquet
and write files, and only its first and last steps touch the store (see
docs/ARCHITECTURE.md, "Backtest", for running it on the k8s or celery executor).

Each carries a max runtime (`defs.runs.max_runtime`) far above its normal duration: a scan
or a cycle takes seconds, the first history backfill may take an hour or more.
"""

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
from flb_pipeline.defs.runs import max_runtime

snapshot_job = dg.define_asset_job(
    "snapshot_job",
    selection=dg.AssetSelection.assets(market_snapshots),
    description="One scan of the open-market universe and its data-quality checks.",
    tags=max_runtime(300),
)

history_job = dg.define_asset_job(
    "history_job",
    selection=dg.AssetSelection.assets(settled_history),
    description="Fetch newly settled markets and their pre-close prices.",
    tags=max_runtime(3 * 3600),
)

calibration_job = dg.define_asset_job(
    "calibration_job",
    selection=dg.AssetSelection.assets(win_probability_model),
    description="Fit, evaluate and version the win-probability model.",
    tags=max_runtime(3600),
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
    tags=max_runtime(600),
)

reconcile_job = dg.define_asset_job(
    "reconcile_job",
    selection=dg.AssetSelection.assets(positions, closed_trades),
    description="Pull fills, settlements and positions from the exchange; rebuild the ledger.",
    tags=max_runtime(600),
)

daily_summary_job = dg.define_asset_job(
    "daily_summary_job",
    selection=dg.AssetSelection.assets(daily_metrics_summary),
    description="The daily metrics summary of one New York trading day (a partition).",
    tags=max_runtime(1800),
)

backtest_job = dg.define_asset_job(
    "backtest_job",
    selection=dg.AssetSelection.assets(threshold_backtest),
    executor_def=dg.multiprocess_executor,
    description=(
        "Walk-forward threshold search: history to Parquet, one step per fold (in parallel),"
        " one merge into the store. Adopts thresholds only if they pass every test."
    ),
    tags=max_runtime(3 * 3600),
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
