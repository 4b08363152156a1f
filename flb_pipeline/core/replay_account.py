"""The replayed account: cash, open lots, resting orders, settlements and marks through time.

It keeps the books the live ledger keeps, with the same rules: cash moves by contracts ×
price plus the exchange's rounded fee on every fill; a market's lots close when it settles
($1 per winning contract, no fee) and become closed trades through `core.ledger`; capital is
cash plus open contracts marked at the last recorded bid of their side (at cost if never
quoted), so the caps and the kill switches see what they would have seen live.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.ledger import ClosedTrade, OrderContext, build_ledger, paper_settlement
from flb_pipeline.core.records import Count, Fill, OrderIntent, Side, count_of
from flb_pipeline.core.replay_history import YES, ReplayHistory, moment
from flb_pipeline.core.sizing import WHOLE, ExposureBook, Holding, order_cost


@dataclass
class Lot:
    """One entry order's filled contracts, open until its market settles."""

    order_id: str
    market: int
    side: Side
    contracts: Count
    cost: Decimal
    fees: Decimal
    group_id: str


@dataclass
class RestingOrder:
    """A maker order waiting for other traders to trade through the queue ahead of it."""

    intent: OrderIntent
    market: int
    group_id: str
    schedule: FeeSchedule
    placed_ts: float
    queue_ahead: float
    step: Count = WHOLE
    seen_until: float = field(init=False)
    """Prints up to this time have been looked at."""
    legs: list[tuple[Count, Decimal, float]] = field(default_factory=list)
    traded_through: float = 0.0

    def __post_init__(self) -> None:
        self.seen_until = self.placed_ts

    @property
    def filled(self) -> Count:
        return count_of(sum(contracts for contracts, _, _ in self.legs))

    @property
    def remaining(self) -> Count:
        return count_of(self.intent.contracts - self.filled)


class Account:
    """Cash, lots and resting orders of one replay, and everything they produced."""

    def __init__(self, history: ReplayHistory, capital: Decimal, settle_lag_s: float) -> None:
        self.history = history
        self.cash = capital
        self.settle_lag_s = settle_lag_s
        self.marks = history.marks
        self.lots: dict[int, list[Lot]] = defaultdict(list)
        self.resting: list[RestingOrder] = []
        self.fills: dict[int, list[Fill]] = defaultdict(list)
        self.contexts: dict[str, OrderContext] = {}
        self.closed: list[ClosedTrade] = []
        self._settlements: list[tuple[float, int]] = []

    def settle_until(self, ts: float) -> None:
        """Settle every held market whose settlement time has come, on its recorded result."""
        markets = self.history.markets
        while self._settlements and self._settlements[0][0] <= ts:
            settled_ts, market = heapq.heappop(self._settlements)
            lots = self.lots.pop(market, [])
            if not lots:
                continue
            when = moment(settled_ts)
            result = "yes" if markets.result[market] == YES else "no"
            settlement = paper_settlement(
                str(markets.ticker[market]),
                [(lot.side, lot.contracts, lot.cost) for lot in lots],
                result,
                when,
            )
            self.cash += settlement.revenue
            ledger = build_ledger(self.fills.pop(market, []), self.contexts, [settlement])
            self.closed.extend(ledger.closed_trades)

    def record_fills(self, fills: list[Fill], market: int, group_id: str) -> None:
        """Fills of one order: cash out, one lot per order (every fill's fee is known)."""
        for fill in fills:
            fee = fill.fee or Decimal(0)
            self.cash -= fill.contracts * fill.price + fee
            self.fills[market].append(fill)
            lot = next((x for x in self.lots[market] if x.order_id == fill.order_id), None)
            if lot is None:
                if not self.lots[market]:
                    settles = float(self.history.markets.close_ts[market]) + self.settle_lag_s
                    heapq.heappush(self._settlements, (settles, market))
                lot = Lot(fill.order_id, market, fill.side, 0, Decimal(0), Decimal(0), group_id)
                self.lots[market].append(lot)
            lot.contracts = count_of(lot.contracts + fill.contracts)
            lot.cost += fill.contracts * fill.price
            lot.fees += fee

    def capital(self, ts: float) -> Decimal:
        """Cash plus open contracts at the last recorded bid of their side (at cost if their
        market was never quoted): what the live capital mark would be."""
        value = Decimal(0)
        for market, lots in self.lots.items():
            for lot in lots:
                bid = self.marks.bid(market, lot.side, ts)
                value += lot.contracts * bid if bid is not None else lot.cost
        return self.cash + value

    def exposure_book(self, groups: ScanGroups) -> ExposureBook:
        """Open lots (cost with fees) and resting orders (bounded by the taker fee), each in
        the group it counts against."""
        markets = self.history.markets
        holdings = [
            Holding(
                ticker=str(markets.ticker[market]),
                event_ticker=str(markets.event_ticker[market]),
                group_id=groups.of_holding(
                    str(markets.ticker[market]), str(markets.event_ticker[market]), lot.group_id
                ),
                side=lot.side,
                contracts=lot.contracts,
                cost=lot.cost + lot.fees,
            )
            for market, lots in self.lots.items()
            for lot in lots
        ]
        holdings += [
            Holding(
                ticker=order.intent.ticker,
                event_ticker=str(markets.event_ticker[order.market]),
                group_id=groups.of_holding(
                    order.intent.ticker, str(markets.event_ticker[order.market]), order.group_id
                ),
                side=order.intent.side,
                contracts=order.remaining,
                cost=order_cost(order.schedule, order.remaining, order.intent.limit_price),
            )
            for order in self.resting
            if order.remaining > 0
        ]
        return ExposureBook(tuple(holdings), self.history.mutually_exclusive)

    def open_markets(self) -> int:
        return sum(1 for lots in self.lots.values() if lots)
