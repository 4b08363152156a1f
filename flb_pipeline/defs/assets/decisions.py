"""The decision path of one scan: correlation groups, thresholds, sized FLB candidates."""

from dataclasses import asdict
from decimal import Decimal

import dagster as dg
import pandas as pd

from flb_pipeline.core.grouping import (
    PriceHistory,
    build_groups,
    group_summary,
    grouping_markets,
)
from flb_pipeline.core.strategy import StrategyThresholds, thresholds_id_of
from flb_pipeline.defs.resources import (
    ClockResource,
    StoreResource,
    TradingResource,
)
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.reports.tables import markdown_table
from flb_pipeline.store.backtests import SearchRecord, latest_search
from flb_pipeline.store.decisions import (
    ThresholdsRecord,
    recent_mids,
    save_groups,
    save_thresholds,
)
from flb_pipeline.store.series import load_series
from flb_pipeline.store.snapshots import grouping_rows

TOP_SHOWN = 15


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="decisions",
    kinds={"scipy", "duckdb"},
    description="Every open market of the scan -> group_id: event, heuristic family, correlation.",
)
def correlation_groups(
    context: dg.AssetExecutionContext,
    market_snapshots: str,
    store: StoreResource,
    trading: TradingResource,
) -> dg.Output[str]:
    scan_id = market_snapshots
    with store.store().connect() as con:
        markets = grouping_markets(grouping_rows(con, scan_id), load_series(con))
        tickers = [m.ticker for m in markets]
        mids = recent_mids(con, scan_id, tickers, trading.correlation_scans)
        history = PriceHistory(tickers, mids) if mids.shape[0] > 1 else None
        grouping = build_groups(
            markets,
            history,
            correlation_threshold=trading.correlation_threshold,
            min_observations=trading.correlation_min_observations,
        )
        save_groups(con, scan_id, grouping.group_of, grouping.method)
    largest = group_summary(grouping)[:TOP_SHOWN]
    return dg.Output(
        scan_id,
        metadata={
            "scan_id": scan_id,
            "groups": dg.MetadataValue.int(len(set(grouping.group_of.values()))),
            "markets": dg.MetadataValue.int(len(grouping.group_of)),
            "method": grouping.method,
            "clustered_markets": dg.MetadataValue.int(grouping.clustered_markets),
            "correlation_merges": dg.MetadataValue.int(len(grouping.merges)),
            "largest_groups": dg.MetadataValue.md(
                markdown_table(pd.DataFrame(largest, columns=["group_id", "markets"]))
            ),
        },
    )


class ThresholdsConfig(dg.Config):
    """Decision thresholds used until a backtest chooses others (DESIGN §5.4)."""

    min_favourite_price: float = float(StrategyThresholds.min_favourite_price)
    min_edge: float = StrategyThresholds.min_edge
    kelly_fraction: float = StrategyThresholds.kelly_fraction
    min_seconds_to_close: float = StrategyThresholds.min_seconds_to_close
    max_seconds_to_close: float = StrategyThresholds.max_seconds_to_close
    use_backtest: bool = True
    """Trade the thresholds the latest threshold search adopted, if it adopted any."""

    def thresholds(self) -> StrategyThresholds:
        return StrategyThresholds(
            min_favourite_price=Decimal(str(self.min_favourite_price)),
            min_edge=self.min_edge,
            kelly_fraction=self.kelly_fraction,
            min_seconds_to_close=self.min_seconds_to_close,
            max_seconds_to_close=self.max_seconds_to_close,
        )


@dg.asset(
    deps=["threshold_backtest"],
    pool=DUCKDB_POOL,
    group_name="decisions",
    kinds={"duckdb"},
    description=(
        "The thresholds trade_candidates applies, under an id derived from their values: the"
        " config's, unless the latest threshold search adopted others."
    ),
)
def strategy_thresholds(
    config: ThresholdsConfig, store: StoreResource, clock: ClockResource, trading: TradingResource
) -> dg.Output[str]:
    with store.store().connect() as con:
        search = latest_search(con) if config.use_backtest else None
        record, why = _chosen(config, search, trading.order_style)
        save_thresholds(con, record, clock.now())
    return dg.Output(
        record.thresholds_id,
        metadata={
            "thresholds_id": record.thresholds_id,
            "source": record.source,
            "backtest": dg.MetadataValue.text(why),
            **{
                name: dg.MetadataValue.text(str(value))
                for name, value in asdict(record.thresholds).items()
            },
        },
    )


def _chosen(
    config: ThresholdsConfig, search: SearchRecord | None, order_style: str
) -> tuple[ThresholdsRecord, str]:
    """The adopted thresholds of the latest search when they are for the order style this
    deployment trades; else the config's, with the reason."""
    defaults = config.thresholds()
    fallback = ThresholdsRecord(thresholds_id_of(defaults), "config", defaults)
    if search is None:
        return fallback, "no threshold search yet" if config.use_backtest else "not used"
    if not search.adopted:
        return fallback, f"{search.run_id}: {search.reason}"
    if search.order_style != order_style:
        return fallback, (
            f"{search.run_id} adopted thresholds for {search.order_style} orders; this"
            f" deployment sends {order_style} orders, so the config's stay"
        )
    adopted = ThresholdsRecord(
        thresholds_id_of(search.thresholds), f"backtest:{search.run_id}", search.thresholds
    )
    return adopted, f"{search.run_id}: {search.reason}"
