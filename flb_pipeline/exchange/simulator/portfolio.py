"""The simulated member account: cash, positions, orders, fills and settlements, in cents.

Cash moves only through three doors, so conservation can be checked to the cent:
- a fill pays `count x price + fee` (a resting order pays it out of the escrow it set aside
  when it started resting) and receives 100 per YES/NO pair it nets away, like Kalshi;
- a settlement pays 100 per winning contract (no settlement fee);
- a resting order's unused escrow comes back when it is canceled or done.
Every order is accounted as a buy of its `bought_side` ("sell YES at p" = "buy NO at 100 - p").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flb_pipeline.core.fees import FeeLeg, FeeSchedule
from flb_pipeline.core.records import Side
from flb_pipeline.exchange.simulator.orders import OrderTicket

RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"


def to_cents(amount: Decimal) -> int:
    return int(amount * 100)


@dataclass(slots=True)
class Order:
    """An order's lifecycle state; `escrow` is cash set aside for its resting remainder."""

    sequence: int
    order_id: str
    ticket: OrderTicket
    market: int
    event_ticker: str
    fees: FeeSchedule
    created_ts: float
    fill_cap: int
    status: str = EXECUTED
    fill_count: int = 0
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    taker_fees: int = 0
    maker_fees: int = 0
    escrow: int = 0
    last_update_ts: float = 0.0
    checked_tick: int = 0
    fee_legs: list[FeeLeg] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Contracts still working on the book (0 once canceled or executed)."""
        return self.ticket.count - self.fill_count if self.status == RESTING else 0

    def next_fee(self, count: int, price: int, is_taker: bool) -> int:
        """Fee of one more fill: Kalshi rounds the order's cumulative fee, not each fill."""
        self.fee_legs.append(FeeLeg(count, Decimal(price) / 100, is_taker))
        return to_cents(self.fees.order_fill_fees(self.fee_legs)[-1])


@dataclass(frozen=True, slots=True)
class FillRecord:
    sequence: int
    fill_id: str
    order: Order
    count: int
    price: int
    is_taker: bool
    fee: int
    ts: float


@dataclass(slots=True)
class Position:
    """Signed holding (+YES / -NO) with its cost basis, like Kalshi's MarketPosition."""

    market: int
    ticker: str
    event_ticker: str
    contracts: int = 0
    cost: int = 0
    realized_pnl: int = 0
    fees_paid: int = 0
    total_traded: int = 0
    last_updated_ts: float = 0.0


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    sequence: int
    ticker: str
    event_ticker: str
    yes_won: bool
    yes_count: int
    yes_total_cost: int
    no_count: int
    no_total_cost: int
    revenue: int
    ts: float


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of an order, in cents of the side the order acquires."""

    count: int
    bought_price: int
    is_taker: bool


def pairs_netted(contracts: int, bought_side: Side, count: int) -> int:
    """YES/NO pairs a buy of `count` `bought_side` contracts nets against the holding."""
    opposite = contracts < 0 if bought_side == "yes" else contracts > 0
    return min(count, abs(contracts)) if opposite else 0


class Account:
    """One member's books. The simulator has a single member (`user_id` is fixed)."""

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.orders: dict[str, Order] = {}
        self.order_by_client_id: dict[str, Order] = {}
        self.fills: list[FillRecord] = []
        self.positions: dict[int, Position] = {}
        self.settlements: list[SettlementRecord] = []

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.ticket.client_order_id:
            self.order_by_client_id[order.ticket.client_order_id] = order

    def resting_orders(self) -> list[Order]:
        return [order for order in self.orders.values() if order.status == RESTING]

    def position(self, market: int, ticker: str, event_ticker: str) -> Position:
        return self.positions.setdefault(market, Position(market, ticker, event_ticker))

    def fill(self, order: Order, trade: Trade, ts: float, fill_id: str) -> FillRecord:
        """Book one execution: cash (or escrow), position, order totals and the fill record."""
        ticket = order.ticket
        own_price = trade.bought_price if ticket.action == "buy" else 100 - trade.bought_price
        fee = order.next_fee(trade.count, own_price, trade.is_taker)
        cost = trade.count * trade.bought_price
        position = self.position(order.market, ticket.ticker, order.event_ticker)
        paired = pairs_netted(position.contracts, ticket.bought_side, trade.count)
        if trade.is_taker:
            self.balance -= cost + fee
            order.taker_fill_cost += trade.count * own_price
            order.taker_fees += fee
        else:
            order.escrow -= cost + fee
            order.maker_fill_cost += trade.count * own_price
            order.maker_fees += fee
        self.balance += 100 * paired
        _move_position(position, ticket.bought_side, trade, paired)
        position.fees_paid += fee
        position.total_traded += trade.count * own_price
        position.last_updated_ts = ts
        order.fill_count += trade.count
        order.last_update_ts = ts
        record = FillRecord(
            len(self.fills), fill_id, order, trade.count, own_price, trade.is_taker, fee, ts
        )
        self.fills.append(record)
        return record

    def rest(self, order: Order, escrow: int) -> None:
        order.status = RESTING
        order.escrow = escrow
        self.balance -= escrow

    def finish(self, order: Order, status: str, ts: float) -> int:
        """Cancel or complete an order; returns the contracts taken off the book."""
        reduced = order.remaining
        self.balance += order.escrow
        order.escrow = 0
        order.status = status
        order.last_update_ts = ts
        return reduced

    def settle(self, position: Position, yes_won: bool, ts: float) -> SettlementRecord:
        """Pay out a position in a settled market and close it."""
        won = position.contracts > 0 if yes_won else position.contracts < 0
        revenue = 100 * abs(position.contracts) if won else 0
        yes_count, no_count = max(position.contracts, 0), max(-position.contracts, 0)
        record = SettlementRecord(
            sequence=len(self.settlements),
            ticker=position.ticker,
            event_ticker=position.event_ticker,
            yes_won=yes_won,
            yes_count=yes_count,
            yes_total_cost=position.cost if yes_count else 0,
            no_count=no_count,
            no_total_cost=position.cost if no_count else 0,
            revenue=revenue,
            ts=ts,
        )
        self.balance += revenue
        self.settlements.append(record)
        self.forget(position)
        return record

    def forget(self, position: Position) -> None:
        """Drop a position whose market is gone (settled, or flat at settlement)."""
        del self.positions[position.market]


def _move_position(position: Position, bought: Side, trade: Trade, paired: int) -> None:
    """Net `paired` contracts away (realising P&L on average cost), open the rest."""
    if paired:
        released_basis = position.cost * paired // abs(position.contracts)
        position.cost -= released_basis
        position.realized_pnl += paired * (100 - trade.bought_price) - released_basis
    position.cost += (trade.count - paired) * trade.bought_price
    position.contracts += trade.count if bought == "yes" else -trade.count
