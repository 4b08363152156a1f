"""Ingestion: one scan of the open-market universe, and the settled history behind the model."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg
import duckdb
from pydantic import Field

from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL, exchange_session
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.store import transaction
from flb_pipeline.store.history import (
    append_price_points,
    append_settled_markets,
    last_fetch_time,
    mark_prices_fetched,
    markets_awaiting_prices,
    price_point_count,
    record_fetch,
    settled_market_count,
)
from flb_pipeline.store.series import upsert_series
from flb_pipeline.store.snapshots import (
    SCAN_COMPLETE,
    SCAN_FAILED,
    ScanSummary,
    append_market_snapshots,
    begin_scan,
    finish_scan,
)

CANDLE_TICKERS_PER_CALL = 100


class SnapshotConfig(dg.Config):
    """The scanned universe; empty lists mean every open market."""

    series_tickers: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class HistoryConfig(dg.Config):
    """`candle_window_minutes` keeps only the last minutes before each close (None: the whole
    life of the market); calibration needs the price at its horizon, backtests the path."""

    first_lookback_days: float = 30.0
    overlap_s: float = 300.0
    candle_period_minutes: int = 1
    candle_window_minutes: float | None = None


@dataclass
class ScanTally:
    pages: int = 0
    rows: int = 0
    invalid: int = 0


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="ingest",
    kinds={"duckdb"},
    description="One scan of every open market's top of book, appended under a new scan_id.",
)
def market_snapshots(
    context: dg.AssetExecutionContext,
    config: SnapshotConfig,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
) -> dg.Output[str]:
    started_at = clock.now()
    scan_id = f"{started_at:%Y%m%dT%H%M%S%f}Z-{context.run.run_id[:8]}"
    tally = ScanTally()
    started = time.perf_counter()
    with (
        exchange_session(context, exchange, store, clock, activity=f"scan {scan_id}") as client,
        store.store().connect() as con,
    ):
        begin_scan(con, scan_id, started_at)
        try:
            _scan(client, con, config, scan_id, tally, started_at)
        except Exception as error:
            finish_scan(
                con, scan_id, status=SCAN_FAILED, finished_at=clock.now(), pages=tally.pages,
                invalid_records=tally.invalid, latency_ms=_ms_since(started),
                error=f"{type(error).__name__}: {error}",
            )  # fmt: skip
            context.log.error(
                f"scan {scan_id} stopped after {tally.pages} page(s); "
                f"{tally.rows} row(s) kept, scan marked failed"
            )
            raise
        summary = finish_scan(
            con, scan_id, status=SCAN_COMPLETE, finished_at=clock.now(), pages=tally.pages,
            invalid_records=tally.invalid, latency_ms=_ms_since(started),
        )  # fmt: skip
    return dg.Output(scan_id, metadata=_scan_metadata(summary, clock.now()))


def _scan(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    config: SnapshotConfig,
    scan_id: str,
    tally: ScanTally,
    now: datetime,
) -> None:
    """Series (fee schedules), then every page of open markets.

    Each page lands as soon as it arrives, so a later failure keeps what came before.
    """
    upsert_series(con, client.series(), now)
    for series_ticker in _universe(client, config):
        for page in client.market_pages(series_ticker=series_ticker):
            tally.rows += append_market_snapshots(con, scan_id, page.quotes, page.received_at)
            tally.pages += 1
            tally.invalid += len(page.invalid)


def _universe(client: KalshiClient, config: SnapshotConfig) -> list[str | None]:
    """Series to scan: explicit tickers, the series of the chosen categories, or everything."""
    tickers: list[str | None] = list(config.series_tickers)
    for category in config.categories:
        tickers.extend(series.ticker for series in client.series(category=category))
    return tickers or [None]


def _scan_metadata(summary: ScanSummary, now: datetime) -> dict[str, dg.MetadataValue | str]:
    oldest_age = (now - summary.oldest_quote_ts).total_seconds() if summary.oldest_quote_ts else 0.0
    return {
        "scan_id": summary.scan_id,
        "rows": dg.MetadataValue.int(summary.markets),
        "markets": dg.MetadataValue.int(summary.markets),
        "pages": dg.MetadataValue.int(summary.pages),
        "invalid_records": dg.MetadataValue.int(summary.invalid_records),
        "scan_latency_ms": dg.MetadataValue.float(round(summary.latency_ms or 0.0, 1)),
        "oldest_quote_age_s": dg.MetadataValue.float(round(oldest_age, 3)),
    }


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="ingest",
    kinds={"duckdb"},
    description="Settled markets with results and pre-close candles, fetched incrementally.",
)
def settled_history(
    context: dg.AssetExecutionContext,
    config: HistoryConfig,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
) -> dg.MaterializeResult:
    fetched_at = clock.now()
    started = time.perf_counter()
    with (
        exchange_session(context, exchange, store, clock, activity="settled history") as client,
        store.store().connect() as con,
    ):
        previous = last_fetch_time(con)
        since = (
            previous - timedelta(seconds=config.overlap_s)
            if previous
            else fetched_at - timedelta(days=config.first_lookback_days)
        )
        min_settled_ts = int(since.timestamp())
        new_markets = 0
        for page in client.settled_pages(min_settled_ts=min_settled_ts):
            new_markets += append_settled_markets(con, page.markets, fetched_at)
        new_points = _fetch_candles(client, con, config, fetched_at)
        record_fetch(con, fetched_at, min_settled_ts, new_markets, new_points)
        total_markets, total_points = settled_market_count(con), price_point_count(con)
    return dg.MaterializeResult(
        metadata={
            "new_markets": dg.MetadataValue.int(new_markets),
            "new_price_points": dg.MetadataValue.int(new_points),
            "settled_markets": dg.MetadataValue.int(total_markets),
            "price_points": dg.MetadataValue.int(total_points),
            "min_settled_ts": dg.MetadataValue.int(min_settled_ts),
            "fetch_latency_ms": dg.MetadataValue.float(round(_ms_since(started), 1)),
        }
    )


def _fetch_candles(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    config: HistoryConfig,
    fetched_at: datetime,
) -> int:
    """Candles for every settled market still without them, 100 markets per call (markets
    are in close-time order, so one call's window stays narrow)."""
    awaiting = markets_awaiting_prices(con)
    stored = 0
    for first in range(0, len(awaiting), CANDLE_TICKERS_PER_CALL):
        batch = awaiting[first : first + CANDLE_TICKERS_PER_CALL]
        tickers = [ticker for ticker, _, _ in batch]
        start = min(
            _window_start(open_time, close_time, config) for _, open_time, close_time in batch
        )
        end_ts = int(max(close_time for _, _, close_time in batch).timestamp())
        candles = client.candlesticks(
            tickers, int(start.timestamp()), end_ts, config.candle_period_minutes
        )
        with transaction(con):
            stored += append_price_points(con, [p for ps in candles.values() for p in ps])
            mark_prices_fetched(con, tickers, fetched_at)
    return stored


def _window_start(open_time: datetime, close_time: datetime, config: HistoryConfig) -> datetime:
    if config.candle_window_minutes is None:
        return open_time
    return max(open_time, close_time - timedelta(minutes=config.candle_window_minutes))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
