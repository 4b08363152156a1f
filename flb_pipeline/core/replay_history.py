"""Recorded history as the backtester replays it: columnar, checked, with what was skipped.

Prices are integer ten-thousandths of a dollar (the store's DECIMAL(10, 4)), times epoch
seconds, counts hundredths of a contract, so millions of quote rows sit in a few numpy
arrays. Every row that cannot be replayed honestly is dropped here and counted by reason:
a market without a recorded result cannot be settled, a crossed quote is no price, and a
market missing from a decision step it was open at is a gap (never filled in).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from flb_pipeline.core.families import family_in_series
from flb_pipeline.core.grouping import ScanGroups, build_groups, grouping_markets
from flb_pipeline.core.horizon_prices import HorizonQuotes
from flb_pipeline.core.records import OrderBook, SeriesInfo, Side

PRICE_UNITS = 10_000
COUNT_UNITS = 100
NO_PRICE = -1
YES, NO, UNSETTLED = 1, 0, -1
_PRICE_OF_UNITS = tuple(Decimal(units).scaleb(-4) for units in range(PRICE_UNITS + 1))


def moment(ts: float) -> datetime:
    """An epoch time as the aware UTC datetime the decision path reads."""
    return datetime.fromtimestamp(ts, UTC)


def price_of(units: int) -> Decimal:
    """The exact price of `units` ten-thousandths (cached: a replay converts few distinct)."""
    return _PRICE_OF_UNITS[units]


@dataclass(frozen=True, eq=False)
class Markets:
    """Settled markets, one row each; `result` is YES or NO (others never get this far)."""

    ticker: np.ndarray
    event_ticker: np.ndarray
    series_ticker: np.ndarray
    category: np.ndarray
    family: np.ndarray
    group_id: np.ndarray
    open_ts: np.ndarray
    close_ts: np.ndarray
    result: np.ndarray
    price_levels: np.ndarray
    """Each market's price grid as its scans recorded it (`PriceLevels.as_text`; None: no
    scan saw it, so the standard cent grid)."""
    fractional: np.ndarray

    def __len__(self) -> int:
        return len(self.ticker)

    def take(self, rows: np.ndarray) -> Markets:
        return Markets(*(getattr(self, name)[rows] for name in _MARKET_FIELDS))


_MARKET_FIELDS = (
    "ticker", "event_ticker", "series_ticker", "category", "family", "group_id", "open_ts",
    "close_ts", "result", "price_levels", "fractional",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Quotes:
    """Snapshot rows in decision order (time, then market): the bids and asks a decision at
    `ts` saw (NO_PRICE where a side was empty; a candle's NO side is the complement of its
    YES side), whether the market was trading then, when the quote was taken (`quote_ts`,
    the candle's end or the listing's receive time), and the scan it came from (its index
    in `scan_ids`; candles all come from scan '')."""

    ts: np.ndarray
    market: np.ndarray
    yes_bid: np.ndarray
    yes_ask: np.ndarray
    no_bid: np.ndarray
    no_ask: np.ndarray
    active: np.ndarray
    quote_ts: np.ndarray
    scan: np.ndarray
    scan_ids: tuple[str, ...] = ("",)

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, rows: np.ndarray) -> Quotes:
        return Quotes(self.ts[rows], self.market[rows], self.yes_bid[rows], self.yes_ask[rows],
                      self.no_bid[rows], self.no_ask[rows], self.active[rows],
                      self.quote_ts[rows], self.scan[rows], self.scan_ids)  # fmt: skip

    def with_markets(self, market: np.ndarray) -> Quotes:
        return replace(self, market=market)


@dataclass(frozen=True, eq=False)
class Trades:
    """Other traders' recorded prints in (market, time) order: YES price, size in hundredths
    of a contract, and whether the taker bought YES (lifted the ask) or sold it."""

    ts: np.ndarray
    market: np.ndarray
    yes_price: np.ndarray
    count: np.ndarray
    taker_bought_yes: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, eq=False)
class ReplayHistory:
    """Everything a replay reads. `training` holds every settled market's price at the model's
    horizons; a walk-forward refit takes the rows of markets settled before it. `books` are
    order books recorded with a scan, by (scan_id, ticker); `scan_groups` the correlation
    groups recorded with a scan."""

    markets: Markets
    quotes: Quotes
    trades: Trades
    training: HorizonQuotes
    series: Mapping[str, SeriesInfo]
    mutually_exclusive: frozenset[str] = frozenset()
    books: Mapping[tuple[str, str], OrderBook] = field(default_factory=dict)
    scan_groups: Mapping[str, ScanGroups] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)

    def groups_of(self, scan_id: str) -> ScanGroups:
        """The groups a decision at this scan used: recorded with the scan, else each
        market's group over the whole history (event + heuristic key)."""
        recorded = self.scan_groups.get(scan_id)
        return recorded if recorded is not None else self._market_groups

    @functools.cached_property
    def marks(self) -> Marks:
        """Every market's last recorded bids, built once: every replay of this history marks
        its lots with them, whatever its thresholds."""
        return Marks(self)

    @functools.cached_property
    def _market_groups(self) -> ScanGroups:
        markets = self.markets
        return ScanGroups(
            dict(zip(markets.ticker.tolist(), markets.group_id.tolist(), strict=True)),
            dict(zip(markets.event_ticker.tolist(), markets.group_id.tolist(), strict=True)),
        )


class Marks:
    """The last recorded bid of each side of each market at any time (forward-filled over
    missing sides, as the live marks keep a side's last bid)."""

    def __init__(self, history: ReplayHistory) -> None:
        quotes = history.quotes
        order = np.lexsort((quotes.ts, quotes.market))
        self._market = quotes.market[order]
        self._ts = quotes.ts[order]
        self._bids = {
            "yes": _forward_fill(quotes.yes_bid[order], self._market),
            "no": _forward_fill(quotes.no_bid[order], self._market),
        }
        self._starts = np.searchsorted(self._market, np.arange(len(history.markets) + 1))

    def bid(self, market: int, side: Side, ts: float) -> Decimal | None:
        first, last = self._starts[market], self._starts[market + 1]
        index = first + np.searchsorted(self._ts[first:last], ts, side="right") - 1
        if index < first:
            return None
        units = int(self._bids[side][index])
        return None if units == NO_PRICE else price_of(units)


def _forward_fill(values: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Each row's value, or the market's last present one before it (NO_PRICE if none)."""
    index = np.where(values != NO_PRICE, np.arange(len(values)), -1)
    starts = np.r_[True, market[1:] != market[:-1]] if len(market) else np.zeros(0, bool)
    first_of_market = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))
    last_seen = np.maximum.accumulate(index)
    filled = np.where(last_seen >= first_of_market, values[np.maximum(last_seen, 0)], NO_PRICE)
    return filled.astype(values.dtype)


def settled_only(markets: Markets, quotes: Quotes, trades: Trades) -> tuple[
    Markets, Quotes, Trades, Counter[str]
]:  # fmt: skip
    """Markets with a YES or NO result and the rows that belong to them, quotes checked; the
    counts say what was dropped and why."""
    skipped: Counter[str] = Counter()
    settled = np.isin(markets.result, (YES, NO))
    skipped["markets_without_result"] = int((~settled).sum())
    kept = markets.take(np.flatnonzero(settled))
    remap = np.full(len(markets), -1, dtype=np.int64)
    remap[np.flatnonzero(settled)] = np.arange(len(kept))
    quotes = _rows_of(quotes, remap, skipped, "quotes_of_markets_without_result")
    trades_kept = remap[trades.market] >= 0 if len(trades) else np.zeros(0, bool)
    skipped["trades_of_markets_without_result"] = int((~trades_kept).sum())
    trades = Trades(trades.ts[trades_kept], remap[trades.market[trades_kept]],
                    trades.yes_price[trades_kept], trades.count[trades_kept],
                    trades.taker_bought_yes[trades_kept])  # fmt: skip
    bad = _crossed(quotes.yes_bid, quotes.yes_ask) | _crossed(quotes.no_bid, quotes.no_ask)
    for side in (quotes.yes_bid, quotes.yes_ask, quotes.no_bid, quotes.no_ask):
        bad |= (side > PRICE_UNITS) | (side < NO_PRICE)
    skipped["crossed_or_invalid_quotes"] = int(bad.sum())
    quotes = quotes.take(np.flatnonzero(~bad))
    order = np.lexsort((trades.ts, trades.market))
    trades = Trades(trades.ts[order], trades.market[order], trades.yes_price[order],
                    trades.count[order], trades.taker_bought_yes[order])  # fmt: skip
    quoted = np.bincount(quotes.market, minlength=len(kept)) > 0
    skipped["markets_without_quotes"] = int((~quoted).sum())
    return kept, quotes, trades, skipped


def _crossed(bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    return (bid != NO_PRICE) & (ask != NO_PRICE) & (bid >= ask)


def _rows_of(quotes: Quotes, remap: np.ndarray, skipped: Counter[str], reason: str) -> Quotes:
    market = remap[quotes.market] if len(quotes) else quotes.market
    kept = market >= 0
    skipped[reason] = int((~kept).sum())
    rows = np.flatnonzero(kept)
    order = rows[np.lexsort((market[rows], quotes.ts[rows]))]
    return quotes.with_markets(market).take(order)


def candle_gaps(markets: Markets, quotes: Quotes, step_s: float, start: float, end: float) -> int:
    """Decision steps in [start, end) at which a market was open (open ≤ t < close) and no
    candle was recorded: counted, never interpolated."""
    first = np.ceil(np.maximum(markets.open_ts, start) / step_s)
    last = np.ceil(np.minimum(markets.close_ts, end) / step_s) - 1
    expected = np.maximum(last - first + 1, 0).astype(np.int64)
    recorded = np.bincount(quotes.market, minlength=len(markets))
    return int(np.maximum(expected - recorded, 0).sum())


def build_history(
    markets: Mapping[str, np.ndarray],
    quotes: Mapping[str, np.ndarray],
    trades: Mapping[str, np.ndarray],
    training: HorizonQuotes,
    series: Mapping[str, SeriesInfo],
    *,
    step_s: float | None = None,
    mutually_exclusive: frozenset[str] = frozenset(),
    books: Mapping[tuple[str, str], OrderBook] | None = None,
    scan_groups: Mapping[str, ScanGroups] | None = None,
    scan_ids: tuple[str, ...] = ("",),
) -> ReplayHistory:
    """A checked history from columns (as the store exports them).

    `markets`: ticker, event_ticker, series_ticker, category, open_ts, close_ts, result
    ('yes'/'no', anything else is unsettled). `quotes`: market (index into `markets`), ts,
    yes_bid, yes_ask in price units (NO_PRICE for an empty side); optional no_bid/no_ask
    (else the YES side's complement), quote_ts (else ts), active (else open <= ts < close),
    scan (index into `scan_ids`, else candles). `trades`: market, ts, yes_price, count
    (hundredths), taker_bought_yes. With `step_s` the quotes are candles: only those ending
    on the decision grid while their market trades are decision rows, and the steps a market
    missed are counted as gaps.
    """
    table = _markets(markets, series)
    rows = _quotes(quotes, table, step_s)
    tape = Trades(
        np.asarray(trades["ts"], dtype=float),
        np.asarray(trades["market"], dtype=np.int64),
        np.asarray(trades["yes_price"], dtype=np.int32),
        np.asarray(trades["count"], dtype=np.int64),
        np.asarray(trades["taker_bought_yes"], dtype=bool),
    )
    skipped: Counter[str] = Counter()
    unknown = [s for s in table.series_ticker.tolist() if s not in series]
    skipped["markets_of_series_without_fee_schedule"] = len(unknown)
    if step_s is not None:
        skipped["candles_off_grid_or_outside_trading"] = len(quotes["ts"]) - len(rows)
        if len(rows):
            skipped["candle_gaps"] = candle_gaps(
                table, rows, step_s, float(rows.ts.min()), float(rows.ts.max()) + step_s
            )
    kept, rows, tape, dropped = settled_only(table, rows, tape)
    skipped.update(dropped)
    return ReplayHistory(
        markets=kept,
        quotes=replace(rows, scan_ids=scan_ids),
        trades=tape,
        training=training,
        series=series,
        mutually_exclusive=mutually_exclusive,
        books=books or {},
        scan_groups=scan_groups or {},
        skipped={reason: n for reason, n in sorted(skipped.items()) if n},
    )


def _markets(columns: Mapping[str, np.ndarray], series: Mapping[str, SeriesInfo]) -> Markets:
    ticker = np.asarray(columns["ticker"], dtype=object)
    event = np.asarray(columns["event_ticker"], dtype=object)
    series_ticker = np.asarray(columns["series_ticker"], dtype=object)
    category = np.array([c if isinstance(c, str) else "" for c in columns["category"]], object)
    labels = list(
        zip(ticker.tolist(), event.tolist(), series_ticker.tolist(), category.tolist(), strict=True)
    )
    group_of = build_groups(grouping_markets(labels, series)).group_of
    result = [YES if r == "yes" else NO if r == "no" else UNSETTLED for r in columns["result"]]
    families = [family_in_series(c, series.get(s)) for _, _, s, c in labels]
    return Markets(
        ticker=ticker,
        event_ticker=event,
        series_ticker=series_ticker,
        category=category,
        family=np.array(families, dtype=object),
        group_id=np.array([group_of[t] for t in ticker.tolist()], dtype=object),
        open_ts=np.asarray(columns["open_ts"], dtype=float),
        close_ts=np.asarray(columns["close_ts"], dtype=float),
        result=np.array(result, dtype=np.int8),
        price_levels=np.asarray(columns.get("price_levels", [None] * len(ticker)), dtype=object),
        fractional=np.asarray(columns.get("fractional", [False] * len(ticker)), dtype=bool),
    )


def _quotes(columns: Mapping[str, np.ndarray], markets: Markets, step_s: float | None) -> Quotes:
    ts = np.asarray(columns["ts"], dtype=float)
    market = np.asarray(columns["market"], dtype=np.int64)
    yes_bid = np.asarray(columns["yes_bid"], dtype=np.int16)
    yes_ask = np.asarray(columns["yes_ask"], dtype=np.int16)
    no_bid = _or(columns, "no_bid", lambda: _complement(yes_ask)).astype(np.int16)
    no_ask = _or(columns, "no_ask", lambda: _complement(yes_bid)).astype(np.int16)
    trading = (markets.open_ts[market] <= ts) & (ts < markets.close_ts[market])
    rows = Quotes(
        ts=ts,
        market=market,
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=no_bid,
        no_ask=no_ask,
        active=_or(columns, "active", lambda: trading).astype(bool),
        quote_ts=_or(columns, "quote_ts", lambda: ts).astype(float),
        scan=_or(columns, "scan", lambda: np.zeros(len(ts), dtype=np.int32)).astype(np.int32),
    )
    if step_s is None:
        return rows
    return rows.take(np.flatnonzero(trading & (np.mod(ts, step_s) == 0)))


def _or(
    columns: Mapping[str, np.ndarray], name: str, default: Callable[[], np.ndarray]
) -> np.ndarray:
    return np.asarray(columns[name]) if name in columns else default()


def _complement(units: np.ndarray) -> np.ndarray:
    """The other side of the book: a YES bid at p is a NO ask at 1 − p."""
    return np.where(units == NO_PRICE, NO_PRICE, PRICE_UNITS - units.astype(np.int32))
