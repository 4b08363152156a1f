"""The simulated member account: cash, positions, orders, fills and settlements.

Money and counts are exact `Decimal`s (dollars, contracts); prices are mills. Cash moves only
through three doors, so conservation can be checked exactly:
- a fill pays `count x price + fee` (a resting order pays it out of the escrow it set aside
  when it started resting) and receives $1 per YES/NO pair it nets away, like Kalshi;
- a settlement pays $1 per winning contract (no settlement fee);
- a resting order's unused escrow comes back when it is canceled or done.
Every order is accounted as a buy of its `bought_side` ("sell YES at p" = "buy NO at $1 - p").
Fees follow Kalshi's rounding (`core.fees`): each fill's fee is rounded so the balance moves
in whole cents, and the order's accumulated rounding is rebated a cent at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flb_pipeline.core.fees import FeeLeg, FeeSchedule
from flb_pipeline.core.records import Side
from flb_pipeline.exchange.simulator.orders import OrderTicket
from flb_pipeline.exchange.simulator.units import ONE_DOLLAR_MILLS, mills_to_dollars

RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"
ZERO = Decimal(0)
ONE = Decimal(1)
_BASIS_QUANTUM = Decimal("0.000001")


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
    fill_cap: Decimal
    status: str = EXECUTED
    fill_count: Decimal = ZERO
    taker_fill_cost: Decimal = ZERO
    maker_fill_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    escrow: Decimal = ZERO
    last_update_ts: float = 0.0
    checked_tick: int = 0
    queue_ahead: Decimal = ZERO
    """Contracts resting before this order at its price (price-time priority)."""
    fee_legs: list[FeeLeg] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        """Contracts still working on the book (0 once canceled or executed)."""
        return self.ticket.count - self.fill_count if self.status == RESTING else ZERO

    def next_fee(self, count: Decimal, price: int, is_taker: bool) -> Decimal:
        """Fee of one more fill: Kalshi rounds over the order's fills, not each alone."""
        self.fee_legs.append(FeeLeg(count, mills_to_dollars(price), is_taker))
        return self.fees.order_fill_fees(self.fee_legs)[-1]


@dataclass(frozen=True, slots=True)
class FillRecord:
    sequence: int
    fill_id: str
    order: Order
    count: Decimal
    price: int
    """Mills of the order's own side."""
    is_taker: bool
    fee: Decimal
    ts: float


@dataclass(slots=True)
class Position:
    """Signed holding (+YES / -NO) with its cost basis, like Kalshi's MarketPosition."""

    market: int
    ticker: str
    event_ticker: str
    contracts: Decimal = ZERO
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    total_traded: Decimal = ZERO
    last_updated_ts: float = 0.0


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    sequence: int
    ticker: str
    event_ticker: str
    yes_won: bool
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue: Decimal
    ts: float


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of an order, in mills of the side the order acquires."""

    count: Decimal
    bought_price: int
    is_taker: bool

    @property
    def cost(self) -> Decimal:
        return self.count * mills_to_dollars(self.bought_price)


def pairs_netted(contracts: Decimal, bought_side: Side, count: Decimal) -> Decimal:
    """YES/NO pairs a buy of `count` `bought_side` contracts nets against the holding."""
    opposite = contracts < 0 if bought_side == "yes" else contracts > 0
    return min(count, abs(contracts)) if opposite else ZERO


class Account:
    """One member's books. The simulator has a single member (`user_id` is fixed)."""

    def __init__(self, balance: Decimal) -> None:
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
        own_price = own_mills(ticket, trade.bought_price)
        fee = order.next_fee(trade.count, trade.bought_price, trade.is_taker)
        cost = trade.cost
        own_cost = trade.count * mills_to_dollars(own_price)
        position = self.position(order.market, ticket.ticker, order.event_ticker)
        paired = pairs_netted(position.contracts, ticket.bought_side, trade.count)
        if trade.is_taker:
            self.balance -= cost + fee
            order.taker_fill_cost += own_cost
            order.taker_fees += fee
        else:
            order.escrow -= cost + fee
            order.maker_fill_cost += own_cost
            order.maker_fees += fee
        self.balance += paired
        _move_position(position, ticket.bought_side, trade, paired)
        position.fees_paid += fee
        position.total_traded += own_cost
        position.last_updated_ts = ts
        order.fill_count += trade.count
        order.last_update_ts = ts
        record = FillRecord(
            len(self.fills), fill_id, order, trade.count, own_price, trade.is_taker, fee, ts
        )
        self.fills.append(record)
        return record

    def rest(self, order: Order, escrow: Decimal) -> None:
        order.status = RESTING
        order.escrow = escrow
        self.balance -= escrow

    def finish(self, order: Order, status: str, ts: float) -> Decimal:
        """Cancel or complete an order; returns the contracts taken off the book."""
        reduced = order.remaining
        self.balance += order.escrow
        order.escrow = ZERO
        order.status = status
        order.last_update_ts = ts
        return reduced

    def settle(self, position: Position, yes_won: bool, ts: float) -> SettlementRecord:
        """Pay out a position in a settled market and close it."""
        won = position.contracts > 0 if yes_won else position.contracts < 0
        revenue = abs(position.contracts) if won else ZERO
        yes_count, no_count = max(position.contracts, ZERO), max(-position.contracts, ZERO)
        record = SettlementRecord(
            sequence=len(self.settlements),
            ticker=position.ticker,
            event_ticker=position.event_ticker,
            yes_won=yes_won,
            yes_count=yes_count,
            yes_total_cost=position.cost if yes_count else ZERO,
            no_count=no_count,
            no_total_cost=position.cost if no_count else ZERO,
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


def own_mills(ticket: OrderTicket, bought_price: int) -> int:
    """A price of the bought side in mills of the order's own side."""
    return bought_price if ticket.action == "buy" else ONE_DOLLAR_MILLS - bought_price


def _move_position(position: Position, bought: Side, trade: Trade, paired: Decimal) -> None:
    """Net `paired` contracts away (realising P&L on average cost), open the rest."""
    price = mills_to_dollars(trade.bought_price)
    if paired:
        released_basis = (position.cost * paired / abs(position.contracts)).quantize(_BASIS_QUANTUM)
        position.cost -= released_basis
        position.realized_pnl += paired * (ONE - price) - released_basis
    position.cost += (trade.count - paired) * price
    position.contracts += trade.count if bought == "yes" else -trade.count
