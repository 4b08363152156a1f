"""Recorded quote rows as the records the live decision path takes: a cycle's quotes as a
scan would have listed them, the book a row was recorded with, and the cycle's scan id."""

from __future__ import annotations

import functools
from decimal import Decimal

import numpy as np

from flb_pipeline.core.records import MarketQuote, OrderBook
from flb_pipeline.core.replay_fills import quoted_book
from flb_pipeline.core.replay_history import NO_PRICE, ReplayHistory, moment, price_of
from flb_pipeline.core.ticks import PriceLevels

CANDLE_SCAN_PREFIX = "bt-"


def market_quotes(history: ReplayHistory, rows: np.ndarray) -> list[MarketQuote]:
    """The rows as the quotes a live scan would have listed, on each market's price grid."""
    quotes, markets = history.quotes, history.markets
    return [
        MarketQuote(
            ticker=str(markets.ticker[m]),
            event_ticker=str(markets.event_ticker[m]),
            series_ticker=str(markets.series_ticker[m]),
            title="",
            category=str(markets.category[m]),
            status="active" if active else "closed",
            yes_bid=_price(yes_bid),
            yes_ask=_price(yes_ask),
            no_bid=_price(no_bid),
            no_ask=_price(no_ask),
            last_price=None,
            volume=0,
            open_interest=0,
            open_time=moment(markets.open_ts[m]),
            close_time=moment(markets.close_ts[m]),
            quote_ts=moment(quoted),
            price_levels=_grid(markets.price_levels[m]),
            fractional=bool(markets.fractional[m]),
        )
        for m, yes_bid, yes_ask, no_bid, no_ask, active, quoted in zip(
            quotes.market[rows].tolist(),
            quotes.yes_bid[rows].tolist(),
            quotes.yes_ask[rows].tolist(),
            quotes.no_bid[rows].tolist(),
            quotes.no_ask[rows].tolist(),
            quotes.active[rows].tolist(),
            quotes.quote_ts[rows].tolist(),
            strict=True,
        )
    ]


@functools.cache
def _grid(text: str | None) -> PriceLevels | None:
    """Memoised: a history's markets share a handful of grids."""
    return PriceLevels.from_text(text)


def row_book(history: ReplayHistory, scan_id: str, row: int, assumed_depth: int) -> OrderBook:
    """The book recorded with the row's scan, else its quote with `assumed_depth` a level."""
    quotes = history.quotes
    ticker = str(history.markets.ticker[quotes.market[row]])
    recorded = history.books.get((scan_id, ticker))
    return quoted_book(
        ticker, int(quotes.yes_bid[row]), int(quotes.no_bid[row]), assumed_depth, recorded
    )


def rows_by_ticker(history: ReplayHistory, rows: np.ndarray) -> dict[str, int]:
    tickers = history.markets.ticker[history.quotes.market[rows]]
    return dict(zip(tickers.tolist(), rows.tolist(), strict=True))


def cycle_scan_id(history: ReplayHistory, ts: float, rows: np.ndarray) -> str:
    """The recorded scan of the cycle at `ts`; candles get one named after the time."""
    quotes = history.quotes
    if len(rows):
        recorded = quotes.scan_ids[int(quotes.scan[rows[0]])]
        if recorded:
            return recorded
    first = int(np.searchsorted(quotes.ts, ts))
    recorded = quotes.scan_ids[int(quotes.scan[first])] if first < len(quotes) else ""
    return recorded or f"{CANDLE_SCAN_PREFIX}{moment(ts):%Y%m%dT%H%M%S}"


def _price(units: int) -> Decimal | None:
    return None if units == NO_PRICE else price_of(units)
