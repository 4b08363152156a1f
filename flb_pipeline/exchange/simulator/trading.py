"""Order economics: what an incoming order takes from the book and what it costs.

Pure functions of the ticket, the asks it faces and the series' fee schedule, so the exchange
can price an order completely, and reject it without side effects, before touching any state.
Prices are cents of the side the order acquires (see `OrderTicket.bought_side`).
"""

from __future__ import annotations

import math
from decimal import Decimal

from flb_pipeline.core.fees import FeeLeg, FeeSchedule
from flb_pipeline.exchange.simulator.book import Level, sweep
from flb_pipeline.exchange.simulator.errors import bad_request
from flb_pipeline.exchange.simulator.orders import FILL_OR_KILL, GOOD_TILL_CANCELED, OrderTicket
from flb_pipeline.exchange.simulator.portfolio import Trade, pairs_netted, to_cents


def fill_cap(count: int, partial_fill_ratio: float | None) -> int:
    """Most contracts the order may ever fill (the partial-fill fault caps it)."""
    return count if partial_fill_ratio is None else math.floor(partial_fill_ratio * count)


def own_price(ticket: OrderTicket, bought_price: int) -> int:
    """A price of the bought side expressed in the order's own side."""
    return bought_price if ticket.action == "buy" else 100 - bought_price


def taker_trades(
    ticket: OrderTicket, asks: tuple[Level, ...], cap: int, fees: FeeSchedule
) -> list[Trade]:
    """The immediate fills: sweep the asks, then apply post-only, fill-or-kill and max cost."""
    if ticket.post_only and asks and asks[0][0] <= ticket.bought_limit:
        raise bad_request("post_only_cross", "a post-only order would take liquidity")
    trades = [
        Trade(count, price, is_taker=True) for price, count in sweep(asks, ticket.bought_limit, cap)
    ]
    if ticket.time_in_force == FILL_OR_KILL and sum(t.count for t in trades) < ticket.count:
        return []
    budget = ticket.buy_max_cost
    if budget is not None and gross_cost(ticket, trades, fees) > budget:
        return []
    return trades


def taker_fees(ticket: OrderTicket, trades: list[Trade], fees: FeeSchedule) -> int:
    """Total fee of the immediate fills, rounded per order as Kalshi does."""
    legs = [FeeLeg(t.count, Decimal(own_price(ticket, t.bought_price)) / 100) for t in trades]
    return to_cents(sum(fees.order_fill_fees(legs), Decimal(0)))


def gross_cost(ticket: OrderTicket, trades: list[Trade], fees: FeeSchedule) -> int:
    return sum(t.count * t.bought_price for t in trades) + taker_fees(ticket, trades, fees)


def cash_needed(
    ticket: OrderTicket, trades: list[Trade], contracts_held: int, fees: FeeSchedule
) -> int:
    """Cost plus fees minus the 100 per YES/NO pair the fills net against the holding."""
    contracts, refund = contracts_held, 0
    for trade in trades:
        refund += 100 * pairs_netted(contracts, ticket.bought_side, trade.count)
        contracts += trade.count if ticket.bought_side == "yes" else -trade.count
    return gross_cost(ticket, trades, fees) - refund


def resting_escrow(ticket: OrderTicket, trades: list[Trade], fees: FeeSchedule) -> int:
    """Cash a good-till-canceled remainder sets aside: its cost at the limit plus a bound on
    its maker fee (the per-order rounding never charges more than ceil of the raw fee)."""
    if ticket.time_in_force != GOOD_TILL_CANCELED:
        return 0
    remaining = ticket.count - sum(t.count for t in trades)
    maker_fee = fees.maker_fee(remaining, Decimal(ticket.limit) / 100)
    return remaining * ticket.bought_limit + to_cents(maker_fee)
