"""The one `Definitions` object of the `flb_pipeline` code location."""

import dagster as dg

from flb_pipeline.defs.assets.ingest import market_snapshots, settled_history
from flb_pipeline.defs.checks import SNAPSHOT_CHECKS
from flb_pipeline.defs.jobs import JOBS
from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.defs.schedules import SCHEDULES
from flb_pipeline.settings import Settings


def build_definitions(
    settings: Settings,
    *,
    exchange: ExchangeResource | None = None,
    store: StoreResource | None = None,
) -> dg.Definitions:
    """Definitions wired to one deployment's settings; tests may hand in tuned resources."""
    exchange = exchange or ExchangeResource(
        exchange=settings.exchange, base_url=settings.exchange_url, execution=settings.execution
    )
    clock_source = "exchange" if exchange.exchange == "sim" else "system"
    return dg.Definitions(
        assets=[market_snapshots, settled_history],
        asset_checks=SNAPSHOT_CHECKS,
        jobs=JOBS,
        schedules=SCHEDULES,
        resources={
            "store": store or StoreResource(db_path=settings.db_path),
            "exchange": exchange,
            "clock": ClockResource(exchange=exchange, source=clock_source),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
