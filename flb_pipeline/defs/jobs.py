"""Jobs (DESIGN §8). Every job runs in-process: one DuckDB writer, and no per-step spawn cost."""

import dagster as dg

from flb_pipeline.defs.assets.ingest import market_snapshots, settled_history

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

JOBS = [snapshot_job, history_job]
