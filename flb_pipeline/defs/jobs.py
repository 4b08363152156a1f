"""Jobs (DESIGN §8). Every job runs in-process: one DuckDB writer, and no per-step spawn cost."""

import dagster as dg

from flb_pipeline.defs.assets.candidates import trade_candidates
from flb_pipeline.defs.assets.decisions import correlation_groups, strategy_thresholds
from flb_pipeline.defs.assets.ingest import market_snapshots, settled_history
from flb_pipeline.defs.assets.model import win_probability_model

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

decision_job = dg.define_asset_job(
    "decision_job",
    selection=dg.AssetSelection.assets(
        market_snapshots, correlation_groups, strategy_thresholds, trade_candidates
    ),
    description="Snapshot -> groups -> sized candidates, without sending anything.",
)

JOBS = [snapshot_job, history_job, calibration_job, decision_job]
