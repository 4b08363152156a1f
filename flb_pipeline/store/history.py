"""Settled markets and their pre-close price history, fetched incrementally."""

from __future__ import annotations

from datetime import datetime

import duckdb

from flb_pipeline.core.records import PricePoint, SettledMarket
from flb_pipeline.store.bulk import append, prices, timestamps


def append_settled_markets(
    con: duckdb.DuckDBPyConnection, markets: list[SettledMarket], fetched_at: datetime
) -> int:
    """Idempotent: a market already stored keeps its first row."""
    before = settled_market_count(con)
    append(
        con,
        "settled_markets",
        {
            "ticker": [m.ticker for m in markets],
            "event_ticker": [m.event_ticker for m in markets],
            "series_ticker": [m.series_ticker for m in markets],
            "category": [m.category for m in markets],
            "open_time": timestamps(m.open_time for m in markets),
            "close_time": timestamps(m.close_time for m in markets),
            "result": [m.result for m in markets],
            "last_price": prices(m.last_price for m in markets),
            "fetched_at": timestamps([fetched_at] * len(markets)),
            "settled_at": timestamps(m.settled_at for m in markets),
        },
        on_conflict="ignore",
    )
    return settled_market_count(con) - before


def append_price_points(con: duckdb.DuckDBPyConnection, points: list[PricePoint]) -> int:
    return append(
        con,
        "settled_prices",
        {
            "ticker": [p.ticker for p in points],
            "period_end": timestamps(p.period_end for p in points),
            "yes_bid": prices(p.yes_bid for p in points),
            "yes_ask": prices(p.yes_ask for p in points),
            "last_price": prices(p.last_price for p in points),
        },
        on_conflict="ignore",
    )


def markets_awaiting_prices(
    con: duckdb.DuckDBPyConnection,
) -> list[tuple[str, datetime, datetime, datetime]]:
    """Settled markets whose candles we have not fetched yet: (ticker, open, close, settled;
    a market stored without its settlement time counts as settled at its close)."""
    return con.execute(
        "SELECT ticker, open_time, close_time, coalesce(settled_at, close_time)"
        " FROM settled_markets WHERE prices_fetched_at IS NULL ORDER BY close_time, ticker"
    ).fetchall()


def mark_prices_fetched(
    con: duckdb.DuckDBPyConnection, tickers: list[str], fetched_at: datetime
) -> None:
    con.execute(
        "UPDATE settled_markets SET prices_fetched_at = ? WHERE list_contains(?, ticker)",
        [fetched_at, tickers],
    )


def record_fetch(
    con: duckdb.DuckDBPyConnection,
    fetched_at: datetime,
    min_settled_ts: int | None,
    markets: int,
    price_points: int,
) -> None:
    con.execute(
        "INSERT INTO history_fetches VALUES (?, ?, ?, ?)",
        [fetched_at, min_settled_ts, markets, price_points],
    )


def last_fetch_time(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(fetched_at) FROM history_fetches").fetchone()
    return row[0] if row else None


def settled_market_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM settled_markets").fetchone()
    return int(row[0]) if row else 0


def price_point_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM settled_prices").fetchone()
    return int(row[0]) if row else 0
