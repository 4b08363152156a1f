"""How replayed orders fill: takers against the recorded book, makers from recorded trades.

- A taker order fills through `core.execution.paper_fills` (cheapest first, up to its limit
  and count, Kalshi's fee rounding) against the book recorded with the scan, or, where none
  was recorded (candles carry no depth), against the quoted ask with `assumed_depth`
  contracts. The slippage model moves that book `slippage_ticks` ticks against us between
  decision and arrival: with a limit at the ask, the order then misses rather than pays more.
- A maker order rests at its limit. It fills only from other traders' recorded prints that
  trade at or through its price, and only once their size has used up the queue ahead of it:
  the depth recorded at its price when it was placed (`assumed_depth` without a recorded
  book; nothing when it improves the best bid). It fills at its own price as a maker.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from flb_pipeline.core.execution import paper_order_id
from flb_pipeline.core.fees import FeeLeg
from flb_pipeline.core.records import ONE_DOLLAR, BookLevel, Fill, OrderBook, Side, count_of
from flb_pipeline.core.replay_account import RestingOrder
from flb_pipeline.core.replay_history import (
    COUNT_UNITS,
    NO_PRICE,
    PRICE_UNITS,
    Trades,
    moment,
    price_of,
)
from flb_pipeline.core.ticks import PriceLevels


def quoted_book(
    ticker: str, yes_bid: int, no_bid: int, depth: int, recorded: OrderBook | None
) -> OrderBook:
    """The recorded book, else the quote's best bids with `depth` contracts each."""
    if recorded is not None:
        return recorded

    def level(units: int) -> tuple[BookLevel, ...]:
        return () if units == NO_PRICE else (BookLevel(price_of(units), depth),)

    return OrderBook(ticker, level(yes_bid), level(no_bid))


def slipped_asks(book: OrderBook, side: Side, ticks: int, levels: PriceLevels) -> list[BookLevel]:
    """The asks of `side`, each moved `ticks` ticks up its market's grid (a level that would
    leave the grid is gone)."""
    moved = []
    for level in book.asks(side):
        price: Decimal | None = level.price
        for _ in range(ticks):
            price = levels.tick_above(price) if price is not None else None
        if price is not None and price < ONE_DOLLAR:
            moved.append(BookLevel(price, level.contracts))
    return moved


def queue_ahead(order_price: Decimal, side: Side, book: OrderBook) -> float:
    """Contracts bid at or above our price on our side when we join: all of them trade first."""
    return float(sum(level.contracts for level in book.bids(side) if level.price >= order_price))


class TradeTape:
    """Recorded prints by market, for the maker fill rule."""

    def __init__(self, trades: Trades, markets: int) -> None:
        self._trades = trades
        self._starts = np.searchsorted(trades.market, np.arange(markets + 1))

    def fill(self, order: RestingOrder, until_ts: float) -> list[Fill]:
        """New fills of `order` from prints in (last looked, until_ts]; `order` keeps the
        volume traded through its price and its fills so far."""
        trades = self._trades
        first, last = self._starts[order.market], self._starts[order.market + 1]
        times = trades.ts[first:last]
        low = first + np.searchsorted(times, order.seen_until, side="right")
        high = first + np.searchsorted(times, until_ts, side="right")
        order.seen_until = max(order.seen_until, until_ts)
        if high <= low or order.remaining <= 0:
            return []
        price_units = int(order.intent.limit_price * PRICE_UNITS)
        prints = slice(low, high)
        if order.intent.side == "yes":
            through = ~trades.taker_bought_yes[prints] & (trades.yes_price[prints] <= price_units)
        else:
            through = trades.taker_bought_yes[prints] & (
                trades.yes_price[prints] >= PRICE_UNITS - price_units
            )
        new_fills: list[Fill] = []
        for index in np.flatnonzero(through):
            order.traded_through += trades.count[low + index] / COUNT_UNITS
            contracts = _fillable(order)
            if contracts > 0:
                new_fills.append(_maker_fill(order, contracts, float(trades.ts[low + index])))
            if order.remaining <= 0:
                break
        return new_fills


def _fillable(order: RestingOrder) -> Decimal | int:
    """Contracts newly fillable: volume beyond the queue, in the market's count steps."""
    step = Decimal(order.step)
    beyond = max(order.traded_through - order.queue_ahead, 0.0)
    units = math.floor(beyond / float(step) + 1e-9)
    reachable = min(count_of(units * step), order.intent.contracts)
    return count_of(max(reachable - order.filled, 0))


def _maker_fill(order: RestingOrder, contracts: Decimal | int, at: float) -> Fill:
    """The next fill of `order`, its fee from Kalshi's per-order rounding over all its fills."""
    order.legs.append((contracts, order.intent.limit_price, at))
    legs = [FeeLeg(c, price, is_taker=False) for c, price, _ in order.legs]
    fee = order.schedule.order_fill_fees(legs)[-1]
    order_id = paper_order_id(order.intent.client_order_id)
    return Fill(
        fill_id=f"{order_id}:{len(order.legs) - 1}",
        order_id=order_id,
        client_order_id=order.intent.client_order_id,
        ticker=order.intent.ticker,
        side=order.intent.side,
        action="buy",
        contracts=contracts,
        price=order.intent.limit_price,
        fee=fee,
        is_taker=False,
        created_time=moment(at),
    )
