"""The public trade tape (`GET /markets/trades`): background prints, newest first.

Each market prints at most once per tick, so (tick, market) is a unique, time-ordered key;
a cursor is simply the last key returned. Only ticks up to the displayed quote tick are
visible, so the tape never shows the future and stops while books are frozen.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.units import (
    ONE_DOLLAR_MILLS,
    PRICE_TEXT,
    count_text,
    iso,
    legacy_cents,
)
from flb_pipeline.exchange.simulator.world import World

_MARKET_BITS = 24
_TRADE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "flb-sim/trades")


def trade_key(tick: NDArray | int, market: NDArray | int) -> NDArray | int:
    return tick * (1 << _MARKET_BITS) + market


class PublicTape:
    """Sorted keys of every background trade, rebuilt only when new events are listed."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._keys = np.empty(0, dtype=np.int64)

    def page(
        self,
        market: int | None,
        tick_range: tuple[int, int],
        limit: int,
        before_key: int | None,
    ) -> tuple[list[tuple[int, int]], int | None]:
        """Up to `limit` (tick, market) trades within `tick_range`, newest first."""
        keys = self._all_keys() if market is None else self._market_keys(market)
        low, high = tick_range
        upper = trade_key(high + 1, 0)
        if before_key is not None:
            upper = min(upper, before_key)
        window = keys[np.searchsorted(keys, trade_key(low, 0)) : np.searchsorted(keys, upper)]
        page = window[::-1][:limit]
        trades = [(int(key) >> _MARKET_BITS, int(key) & ((1 << _MARKET_BITS) - 1)) for key in page]
        return trades, int(page[-1]) if len(window) > limit else None

    def tick_range(self, visible: int, min_ts: int | None, max_ts: int | None) -> tuple[int, int]:
        """Ticks whose time lies within [min_ts, max_ts] and that are already visible."""
        world = self._world
        low = -(1 << 40) if min_ts is None else math.ceil((min_ts - world.origin_ts) / world.tick_s)
        high = visible
        if max_ts is not None:
            high = min(high, math.floor((max_ts - world.origin_ts) / world.tick_s))
        return low, high

    def trade_json(self, tick: int, market: int, *, legacy: bool) -> dict:
        world = self._world
        counts, prices = world.trade_series(market)
        column = tick - int(world.open_tick[market])
        yes_price, count = int(prices[column]), int(counts[column])
        lifted_ask = yes_price == world.quote_series(market)[1][column]
        taker_side = "yes" if lifted_ask else "no"
        trade = {
            "trade_id": str(uuid.uuid5(_TRADE_NAMESPACE, f"{world.config.seed}/{tick}/{market}")),
            "ticker": world.market_tickers[market],
            "count_fp": count_text(count),
            "yes_price_dollars": PRICE_TEXT[yes_price],
            "no_price_dollars": PRICE_TEXT[ONE_DOLLAR_MILLS - yes_price],
            "taker_side": taker_side,
            "taker_outcome_side": taker_side,
            "taker_book_side": "bid" if lifted_ask else "ask",
            "created_time": iso(world.tick_ts(tick)),
            "is_block_trade": False,
        }
        if legacy:
            cents = legacy_cents(yes_price)
            trade |= {"price": cents, "count": count, "yes_price": cents, "no_price": 100 - cents}
        return trade

    def _all_keys(self) -> NDArray[np.int64]:
        world = self._world
        if len(self._keys) != len(world.trade_ticks):
            self._keys = np.sort(trade_key(world.trade_ticks, world.trade_markets))
        return self._keys

    def _market_keys(self, market: int) -> NDArray[np.int64]:
        counts, _ = self._world.trade_series(market)
        ticks = int(self._world.open_tick[market]) + np.flatnonzero(counts)
        return trade_key(ticks, market)
