"""Scans of the open-market universe and the snapshot rows each one wrote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import duckdb

from flb_pipeline.core.records import MarketQuote, count_of
from flb_pipeline.core.ticks import PriceLevels
from flb_pipeline.store.bulk import (
    append,
    counts,
    price_from_units,
    prices,
    timestamp_from_us,
    timestamps,
)

SCAN_COMPLETE = "complete"
SCAN_FAILED = "failed"
SCAN_RUNNING = "running"


@dataclass(frozen=True)
class ScanSummary:
    scan_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    pages: int
    markets: int
    invalid_records: int
    latency_ms: float | None
    oldest_quote_ts: datetime | None
    error: str | None


def begin_scan(
    con: duckdb.DuckDBPyConnection, scan_id: str, started_at: datetime, universe: str
) -> None:
    con.execute(
        "INSERT INTO scans (scan_id, started_at, status, universe) VALUES (?, ?, ?, ?)",
        [scan_id, started_at, SCAN_RUNNING, universe],
    )


def last_complete_scan_size(con: duckdb.DuckDBPyConnection, universe: str) -> int | None:
    """Markets the latest complete scan of `universe` saw (stored or skipped as invalid)."""
    row = con.execute(
        "SELECT markets + invalid_records FROM scans WHERE status = ? AND universe = ?"
        " ORDER BY started_at DESC LIMIT 1",
        [SCAN_COMPLETE, universe],
    ).fetchone()
    return int(row[0]) if row else None


def append_market_snapshots(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    quotes: list[MarketQuote],
    received_at: datetime,
    series_categories: Mapping[str, str] = MappingProxyType({}),
) -> int:
    """One page of quotes. `snapshot_ts` is when the page carrying them was received: the
    quote time (Kalshi's `updated_time` is a metadata time, never used as one). A market that
    does not name its category (Kalshi's markets no longer do) takes its series'."""
    return append(
        con,
        "market_snapshots",
        {
            "scan_id": [scan_id] * len(quotes),
            "snapshot_ts": timestamps(q.quote_ts or received_at for q in quotes),
            "received_at": timestamps([received_at] * len(quotes)),
            "ticker": [q.ticker for q in quotes],
            "event_ticker": [q.event_ticker for q in quotes],
            "series_ticker": [q.series_ticker for q in quotes],
            "title": [q.title for q in quotes],
            "category": [q.category or series_categories.get(q.series_ticker, "") for q in quotes],
            "status": [q.status for q in quotes],
            "yes_bid": prices(q.yes_bid for q in quotes),
            "yes_ask": prices(q.yes_ask for q in quotes),
            "no_bid": prices(q.no_bid for q in quotes),
            "no_ask": prices(q.no_ask for q in quotes),
            "last_price": prices(q.last_price for q in quotes),
            "volume": counts(q.volume for q in quotes),
            "open_interest": counts(q.open_interest for q in quotes),
            "open_time": timestamps(q.open_time for q in quotes),
            "close_time": timestamps(q.close_time for q in quotes),
            "quote_ts": timestamps(q.quote_ts for q in quotes),
            "price_levels": [_levels_text(q.price_levels) for q in quotes],
            "fractional": [q.fractional for q in quotes],
            "fee_waiver_expires": timestamps(q.fee_waiver_expires for q in quotes),
        },
    )


UNSUPPORTED_LEVELS = "unsupported"
"""Stored for a market whose price structure we do not know: it reads back as None."""


def _levels_text(levels: PriceLevels | None) -> str:
    return UNSUPPORTED_LEVELS if levels is None else levels.as_text()


def finish_scan(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    *,
    status: str,
    finished_at: datetime,
    pages: int,
    invalid_records: int,
    latency_ms: float,
    error: str | None = None,
) -> ScanSummary:
    """Close the scan; markets and oldest quote are counted from the rows actually stored."""
    con.execute(
        """
        UPDATE scans SET status = ?, finished_at = ?, pages = ?, invalid_records = ?,
            latency_ms = ?, error = ?,
            markets = (SELECT count(*) FROM market_snapshots WHERE scan_id = ?),
            oldest_quote_ts = (SELECT min(snapshot_ts) FROM market_snapshots WHERE scan_id = ?)
        WHERE scan_id = ?
        """,
        [status, finished_at, pages, invalid_records, latency_ms, error, scan_id, scan_id, scan_id],
    )
    return scan_summary(con, scan_id)


def scan_summary(con: duckdb.DuckDBPyConnection, scan_id: str) -> ScanSummary:
    row = con.execute(
        "SELECT scan_id, status, started_at, finished_at, pages, markets, invalid_records,"
        " latency_ms, oldest_quote_ts, error FROM scans WHERE scan_id = ?",
        [scan_id],
    ).fetchone()
    if row is None:
        raise KeyError(f"no scan {scan_id!r}")
    return ScanSummary(*row)


def crossed_books(con: duckdb.DuckDBPyConnection, scan_id: str) -> list[str]:
    """Markets whose YES bid is at or above the YES ask (or NO likewise)."""
    rows = con.execute(
        "SELECT ticker FROM market_snapshots WHERE scan_id = ?"
        " AND (yes_bid >= yes_ask OR no_bid >= no_ask) ORDER BY ticker",
        [scan_id],
    ).fetchall()
    return [row[0] for row in rows]


def prices_out_of_bounds(con: duckdb.DuckDBPyConnection, scan_id: str) -> list[str]:
    rows = con.execute(
        """
        SELECT ticker FROM market_snapshots WHERE scan_id = ? AND (
            yes_bid NOT BETWEEN 0 AND 1 OR yes_ask NOT BETWEEN 0 AND 1
            OR no_bid NOT BETWEEN 0 AND 1 OR no_ask NOT BETWEEN 0 AND 1
            OR last_price NOT BETWEEN 0 AND 1)
        ORDER BY ticker
        """,
        [scan_id],
    ).fetchall()
    return [row[0] for row in rows]


def duplicate_tickers(con: duckdb.DuckDBPyConnection, scan_id: str) -> list[str]:
    rows = con.execute(
        "SELECT ticker FROM market_snapshots WHERE scan_id = ?"
        " GROUP BY ticker HAVING count(*) > 1 ORDER BY ticker",
        [scan_id],
    ).fetchall()
    return [row[0] for row in rows]


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per user table, for the demo and `flb status`."""
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    return {
        name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
        for (name,) in tables
    }


def snapshot_quotes(con: duckdb.DuckDBPyConnection, scan_id: str) -> list[MarketQuote]:
    """The scan's quotes as records; `quote_ts` is the row's snapshot time.

    Prices come back as integer ten-thousandths and times as epoch microseconds, converted
    exactly in Python: several times faster than DuckDB's per-value Decimal and TIMESTAMPTZ
    objects, and this read sits on every trading cycle's critical path.
    """
    rows = con.execute(
        """
        SELECT ticker, event_ticker, series_ticker, title, category, status,
               CAST(yes_bid * 10000 AS BIGINT), CAST(yes_ask * 10000 AS BIGINT),
               CAST(no_bid * 10000 AS BIGINT), CAST(no_ask * 10000 AS BIGINT),
               CAST(last_price * 10000 AS BIGINT), volume, open_interest,
               epoch_us(open_time), epoch_us(close_time), epoch_us(snapshot_ts),
               price_levels, coalesce(fractional, false), epoch_us(fee_waiver_expires)
        FROM market_snapshots WHERE scan_id = ? ORDER BY ticker
        """,
        [scan_id],
    ).fetchall()
    times: dict[int | None, datetime | None] = {}

    def time(micros: int | None) -> datetime | None:
        """Memoised: a scan shares one snapshot time and each event one open and close."""
        if micros not in times:
            times[micros] = timestamp_from_us(micros)
        return times[micros]

    price = price_from_units
    grids: dict[str | None, PriceLevels | None] = {}

    def grid(text: str | None) -> PriceLevels | None:
        """Memoised: a scan's markets share a handful of grids."""
        if text not in grids:
            grids[text] = PriceLevels.from_text(text)
        return grids[text]

    return [
        MarketQuote(
            *row[:6],
            price(row[6]),
            price(row[7]),
            price(row[8]),
            price(row[9]),
            price(row[10]),
            count_of(row[11]),
            count_of(row[12]),
            time(row[13]),
            time(row[14]),
            time(row[15]),
            grid(row[16]),
            time(row[18]),
            bool(row[17]),
        )
        for row in rows
    ]


def grouping_rows(con: duckdb.DuckDBPyConnection, scan_id: str) -> list[tuple[str, str, str, str]]:
    """(ticker, event_ticker, series_ticker, category) of the scan: what grouping needs."""
    return con.execute(
        "SELECT ticker, event_ticker, series_ticker, category FROM market_snapshots"
        " WHERE scan_id = ? ORDER BY ticker",
        [scan_id],
    ).fetchall()


def invalid_record_count(con: duckdb.DuckDBPyConnection, scan_id: str) -> int:
    return scan_summary(con, scan_id).invalid_records
