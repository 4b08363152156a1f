"""Candlesticks from the tick tapes: quote OHLC, trade-price statistics, volume, interest.

A quote shown at tick t belongs to the candle ending at the first period boundary >= t, so
candles of a market cover its whole trading life, history included. Statistics are computed
for all candles of a market at once with `ufunc.reduceat`; only the JSON is built per candle.
Three wire forms exist: the live one (`open_dollars`, `volume_fp`, ...), the historical tier's
(the same values without suffixes) and, on a legacy simulator, the integer cents beside the
live form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.errors import bad_request
from flb_pipeline.exchange.simulator.units import PRICE_TEXT, count_text, legacy_cents
from flb_pipeline.exchange.simulator.world import World

LIVE, HISTORICAL, LEGACY = "live", "historical", "legacy"

PERIOD_SECONDS = {1: 60, 60: 3_600, 1440: 86_400}
_OHLC = ("open", "low", "high", "close")
_TRADE_STATS = ("open", "low", "high", "close", "mean", "previous")


def period_seconds(period_minutes: int | None) -> int:
    if period_minutes not in PERIOD_SECONDS:
        raise bad_request("invalid_parameters", "period_interval must be 1, 60 or 1440")
    return PERIOD_SECONDS[period_minutes]


def candlesticks(
    world: World,
    market: int,
    quote_tick: int,
    window: tuple[int, int],
    period: int,
    form: str = LIVE,
) -> list[dict[str, Any]]:
    """Candles of `market` whose end_period_ts lies within `window` (inclusive)."""
    open_tick = int(world.open_tick[market])
    length = min(quote_tick, open_tick + world.lifetime_ticks - 1) - open_tick + 1
    if length <= 0:
        return []
    tick_ts = world.tick_ts(np.arange(open_tick, open_tick + length))
    ends = np.ceil(tick_ts / period).astype(np.int64) * period
    starts = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])
    stops = np.r_[starts[1:], length] - 1
    bids, asks = (series[:length] for series in world.quote_series(market))
    counts, prices = (series[:length] for series in world.trade_series(market))
    volume = world.volume_series(market)[:length].astype(np.int64)
    columns = zip(
        ends[starts].tolist(),
        _ohlc_rows(bids, starts, stops),
        _ohlc_rows(asks, starts, stops),
        _trade_rows(counts, prices, world.last_price_series(market)[:length], starts, stops),
        np.add.reduceat(counts.astype(np.int64), starts).tolist(),
        (volume[stops] * 3 // 5).tolist(),
        strict=True,
    )
    return [
        _candle(end, bid, ask, price, traded, interest, form)
        for end, bid, ask, price, traded, interest in columns
        if window[0] <= end <= window[1]
    ]


def _candle(
    end: int,
    bid: dict[str, int],
    ask: dict[str, int],
    price: dict[str, int | None],
    traded: int,
    interest: int,
    form: str,
) -> dict[str, Any]:
    if form == HISTORICAL:
        return {
            "end_period_ts": end,
            "yes_bid": _texts(bid, ""),
            "yes_ask": _texts(ask, ""),
            "price": _texts(price, ""),
            "volume": count_text(traded),
            "open_interest": count_text(interest),
        }
    candle: dict[str, Any] = {
        "end_period_ts": end,
        "yes_bid": _texts(bid, "_dollars"),
        "yes_ask": _texts(ask, "_dollars"),
        "price": _texts(price, "_dollars"),
        "volume_fp": count_text(traded),
        "open_interest_fp": count_text(interest),
    }
    if form == LEGACY:
        for name, values in (("yes_bid", bid), ("yes_ask", ask), ("price", price)):
            candle[name] |= {k: None if v is None else legacy_cents(v) for k, v in values.items()}
        candle |= {"volume": traded, "open_interest": interest}
    return candle


def _texts(values: dict[str, Any], suffix: str) -> dict[str, str | None]:
    return {f"{k}{suffix}": None if v is None else PRICE_TEXT[v] for k, v in values.items()}


def _ohlc_rows(quotes: NDArray, starts: NDArray, stops: NDArray) -> list[dict[str, Any]]:
    values = zip(
        quotes[starts].tolist(),
        np.minimum.reduceat(quotes, starts).tolist(),
        np.maximum.reduceat(quotes, starts).tolist(),
        quotes[stops].tolist(),
        strict=True,
    )
    return [dict(zip(_OHLC, row, strict=True)) for row in values]


def _trade_rows(
    counts: NDArray, prices: NDArray, last_price: NDArray, starts: NDArray, stops: NDArray
) -> list[dict[str, Any]]:
    """Trade-price statistics per candle; null where nothing traded, like Kalshi."""
    traded = counts > 0
    index = np.arange(len(counts))
    first = np.minimum.reduceat(np.where(traded, index, len(counts)), starts)
    last = np.maximum.reduceat(np.where(traded, index, -1), starts)
    low = np.minimum.reduceat(np.where(traded, prices, 1000), starts)
    high = np.maximum.reduceat(np.where(traded, prices, 0), starts)
    notional = np.add.reduceat(counts.astype(np.int64) * prices, starts)
    volume = np.add.reduceat(counts.astype(np.int64), starts)
    mean = np.rint(notional / np.maximum(volume, 1)).astype(np.int64)
    before = starts - 1
    had_traded = (before >= 0) & (np.cumsum(traded)[np.maximum(before, 0)] > 0)
    previous = np.where(had_traded, last_price[np.maximum(before, 0)], -1)
    rows = zip(
        prices[np.minimum(first, len(counts) - 1)].tolist(),
        low.tolist(),
        high.tolist(),
        prices[np.maximum(last, 0)].tolist(),
        mean.tolist(),
        previous.tolist(),
        (volume > 0).tolist(),
        strict=True,
    )
    return [_trade_stats(*row) for row in rows]


def _trade_stats(
    first: int, low: int, high: int, last: int, mean: int, previous: int, any_trade: bool
) -> dict[str, Any]:
    stats: dict[str, int | None] = dict.fromkeys(_TRADE_STATS)
    if any_trade:
        stats |= {"open": first, "low": low, "high": high, "close": last, "mean": mean}
    stats["previous"] = previous if previous >= 0 else None
    return stats
