"""Ingestion: one scan of the open-market universe, and the settled history behind the model."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg
import duckdb
from pydantic import Field

from flb_pipeline.core.records import PricePoint, SettledMarket
from flb_pipeline.core.scan_bounds import ScanBounds, scan_bounds, universe_key
from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL, exchange_session
from flb_pipeline.exchange.client import KalshiClient, PageGuard
from flb_pipeline.exchange.errors import ExchangeError, RequestRejected
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
from flb_pipeline.store.series import upsert_fee_changes, upsert_series
from flb_pipeline.store.snapshots import (
    SCAN_COMPLETE,
    SCAN_FAILED,
    ScanSummary,
    append_market_snapshots,
    begin_scan,
    finish_scan,
    last_complete_scan_size,
)

CANDLE_TICKERS_PER_CALL = 100


class SnapshotConfig(dg.Config):
    """The scanned universe (empty lists mean every open market) and how far a scan of it may
    go: `max_markets` is the largest universe accepted (the hard page cap follows from it),
    `scan_budget_s` the wall-clock time one scan may take (see `core.scan_bounds`)."""

    series_tickers: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    max_markets: int = Field(default=250_000, gt=0)
    scan_budget_s: float = Field(default=120.0, gt=0)


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
    first_invalid: str | None = None
    page_cap: int | None = None


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
        begin_scan(con, scan_id, started_at, universe_key(config.series_tickers, config.categories))
        try:
            _scan(client, con, config, scan_id, tally, started_at, started)
        except BaseException as error:
            message = _fail_scan(con, scan_id, tally, error, clock.now(), started)
            context.log.error(message)
            if not isinstance(error, Exception):
                raise  # an interrupted run: the scan is marked failed, the interrupt goes on
            raise dg.Failure(description=message, metadata=_error_metadata(error)) from error
        summary = finish_scan(
            con, scan_id, status=SCAN_COMPLETE, finished_at=clock.now(), pages=tally.pages,
            invalid_records=tally.invalid, latency_ms=_ms_since(started),
        )  # fmt: skip
    if tally.first_invalid is not None:
        context.log.error(
            f"scan {scan_id} skipped {tally.invalid} invalid market record(s) and kept"
            f" {tally.rows}; complete_records fails, so this scan is not traded."
            f" First: {tally.first_invalid}"
        )
    return dg.Output(scan_id, metadata=_scan_metadata(summary, tally, clock.now()))


def _scan(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    config: SnapshotConfig,
    scan_id: str,
    tally: ScanTally,
    now: datetime,
    started: float,
) -> None:
    """Series (fee schedules and their scheduled changes), then every page of open markets,
    within the scan's bounds.

    Each page lands as soon as it arrives, so a later failure keeps what came before.
    """
    series = client.series()
    upsert_series(con, series, now)
    upsert_fee_changes(con, client.fee_changes())
    categories = {s.ticker: s.category for s in series}
    listings = _universe(client, config)
    bounds = _bounds(client, con, config, len(listings))
    tally.page_cap = bounds.max_pages
    guard = PageGuard(bounds, clock=time.perf_counter, started=started)
    for series_ticker in listings:
        for page in client.market_pages(series_ticker=series_ticker, guard=guard):
            tally.rows += append_market_snapshots(
                con, scan_id, page.quotes, page.received_at, categories
            )
            tally.pages += 1
            tally.invalid += len(page.invalid)
            if page.invalid and tally.first_invalid is None:
                tally.first_invalid = str(page.invalid[0])


def _bounds(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, config: SnapshotConfig, listings: int
) -> ScanBounds:
    universe = universe_key(config.series_tickers, config.categories)
    return scan_bounds(
        listings=listings,
        page_limit=client.settings.markets_page_limit,
        max_markets=config.max_markets,
        budget_s=config.scan_budget_s,
        previous_records=last_complete_scan_size(con, universe),
    )


def _universe(client: KalshiClient, config: SnapshotConfig) -> list[str | None]:
    """Series to scan: explicit tickers, the series of the chosen categories, or everything
    (None: one listing of all open markets) when neither is configured."""
    if not config.series_tickers and not config.categories:
        return [None]
    tickers: list[str | None] = list(config.series_tickers)
    for category in config.categories:
        tickers.extend(series.ticker for series in client.series(category=category))
    return tickers


def _fail_scan(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    tally: ScanTally,
    error: BaseException,
    finished_at: datetime,
    started: float,
) -> str:
    """Mark the scan failed with its reason (its pages stay stored); the one line to log."""
    reason = _failure_reason(error)
    finish_scan(
        con, scan_id, status=SCAN_FAILED, finished_at=finished_at, pages=tally.pages,
        invalid_records=tally.invalid, latency_ms=_ms_since(started), error=reason,
    )  # fmt: skip
    return (
        f"scan {scan_id} failed after {tally.pages} page(s), {tally.rows} row(s) kept"
        f" and the scan marked failed: {reason}"
    )


def _failure_reason(error: BaseException) -> str:
    """What the scan row and the log say: the exchange's failure class, else the Python one."""
    kind = error.error_class if isinstance(error, ExchangeError) else type(error).__name__
    return f"{kind}: {error}"


def _error_metadata(error: Exception) -> dict[str, str]:
    return {"error_class": error.error_class} if isinstance(error, ExchangeError) else {}


def _scan_metadata(
    summary: ScanSummary, tally: ScanTally, now: datetime
) -> dict[str, dg.MetadataValue | str]:
    oldest_age = (now - summary.oldest_quote_ts).total_seconds() if summary.oldest_quote_ts else 0.0
    return {
        "scan_id": summary.scan_id,
        "rows": dg.MetadataValue.int(summary.markets),
        "markets": dg.MetadataValue.int(summary.markets),
        "pages": dg.MetadataValue.int(summary.pages),
        "page_cap": dg.MetadataValue.int(tally.page_cap or 0),
        "invalid_records": dg.MetadataValue.int(summary.invalid_records),
        "scan_latency_ms": dg.MetadataValue.float(round(summary.latency_ms or 0.0, 1)),
        "oldest_quote_age_s": dg.MetadataValue.float(round(oldest_age, 3)),
    }


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="ingest",
    kinds={"duckdb"},
    description=(
        "Settled markets with results and pre-close candles, fetched incrementally across the"
        " live and historical tiers (with their series: a market's family is its series')."
    ),
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
        upsert_series(con, client.series(), fetched_at)
        previous = last_fetch_time(con)
        since = (
            previous - timedelta(seconds=config.overlap_s)
            if previous
            else fetched_at - timedelta(days=config.first_lookback_days)
        )
        min_settled_ts = int(since.timestamp())
        cutoff = _historical_cutoff(client)
        new_markets = 0
        for page in client.settled_pages(min_settled_ts=min_settled_ts):
            new_markets += append_settled_markets(con, page.markets, fetched_at)
        if cutoff is not None and since < cutoff:
            for page in client.historical_settled_pages():
                kept = [m for m in page.markets if _settled_at(m) >= since]
                new_markets += append_settled_markets(con, kept, fetched_at)
        new_points = _fetch_candles(client, con, config, fetched_at, cutoff)
        record_fetch(con, fetched_at, min_settled_ts, new_markets, new_points)
        total_markets, total_points = settled_market_count(con), price_point_count(con)
    return dg.MaterializeResult(
        metadata={
            "new_markets": dg.MetadataValue.int(new_markets),
            "new_price_points": dg.MetadataValue.int(new_points),
            "settled_markets": dg.MetadataValue.int(total_markets),
            "price_points": dg.MetadataValue.int(total_points),
            "min_settled_ts": dg.MetadataValue.int(min_settled_ts),
            "historical_cutoff": cutoff.isoformat() if cutoff else "none",
            "fetch_latency_ms": dg.MetadataValue.float(round(_ms_since(started), 1)),
        }
    )


def _historical_cutoff(client: KalshiClient) -> datetime | None:
    """Where the exchange's live tier of settled markets starts; None for an exchange that
    has no historical tier (everything is live)."""
    try:
        return client.historical_cutoff()
    except RequestRejected as rejected:
        if rejected.status == 404:
            return None
        raise


def _settled_at(market: SettledMarket) -> datetime:
    return market.settled_at or market.close_time


AwaitingPrices = tuple[str, datetime, datetime, datetime]


def _fetch_candles(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    config: HistoryConfig,
    fetched_at: datetime,
    cutoff: datetime | None,
) -> int:
    """Candles for every settled market still without them: from the live tier 100 markets
    per call (in close-time order, so one call's window stays narrow), from the historical
    tier one market per call (it has no batch endpoint)."""
    awaiting = markets_awaiting_prices(con)
    live = [m for m in awaiting if cutoff is None or m[3] >= cutoff]
    stored = 0
    for first in range(0, len(live), CANDLE_TICKERS_PER_CALL):
        batch = live[first : first + CANDLE_TICKERS_PER_CALL]
        start, end = _window(batch, config)
        candles = client.candlesticks(
            [m[0] for m in batch], start, end, config.candle_period_minutes
        )
        stored += _store_candles(con, [m[0] for m in batch], candles, fetched_at)
    for market in (m for m in awaiting if cutoff is not None and m[3] < cutoff):
        start, end = _window([market], config)
        points = client.historical_candlesticks(market[0], start, end, config.candle_period_minutes)
        stored += _store_candles(con, [market[0]], {market[0]: points}, fetched_at)
    return stored


def _window(markets: list[AwaitingPrices], config: HistoryConfig) -> tuple[int, int]:
    start = min(
        _window_start(open_time, close_time, config) for _, open_time, close_time, _ in markets
    )
    end = max(close_time for _, _, close_time, _ in markets)
    return int(start.timestamp()), int(end.timestamp())


def _store_candles(
    con: duckdb.DuckDBPyConnection,
    tickers: list[str],
    candles: dict[str, list[PricePoint]],
    fetched_at: datetime,
) -> int:
    with transaction(con):
        stored = append_price_points(con, [p for ps in candles.values() for p in ps])
        mark_prices_fetched(con, tickers, fetched_at)
    return stored


def _window_start(open_time: datetime, close_time: datetime, config: HistoryConfig) -> datetime:
    if config.candle_window_minutes is None:
        return open_time
    return max(open_time, close_time - timedelta(minutes=config.candle_window_minutes))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
