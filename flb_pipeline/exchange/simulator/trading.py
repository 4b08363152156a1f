"""Order economics: what an incoming order takes from the book and what it costs.

Pure functions of the ticket, the asks it faces and the series' fee schedule, so the exchange
can price an order completely, and reject it without side effects, before touching any state.
Prices are mills of the side the order acquires (see `OrderTicket.bought_side`); counts and
money are exact `Decimal`s.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from flb_pipeline.core.fees import FeeLeg, FeeSchedule, ceil_to_cent
from flb_pipeline.exchange.simulator.book import Level, sweep
from flb_pipeline.exchange.simulator.errors import bad_request
from flb_pipeline.exchange.simulator.orders import FILL_OR_KILL, GOOD_TILL_CANCELED, OrderTicket
from flb_pipeline.exchange.simulator.portfolio import ZERO, Trade, pairs_netted
from flb_pipeline.exchange.simulator.units import mills_to_dollars


def fill_cap(count: Decimal, partial_fill_ratio: float | None, step: Decimal) -> Decimal:
    """Most contracts the order may ever fill (the partial-fill fault caps it), in `step`s."""
    if partial_fill_ratio is None:
        return count
    capped = Decimal(str(partial_fill_ratio)) * count / step
    return capped.to_integral_value(rounding=ROUND_FLOOR) * step


def taker_trades(
    ticket: OrderTicket, asks: tuple[Level, ...], cap: Decimal, fees: FeeSchedule
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
    if budget is not None and gross_cost(trades, fees) > budget:
        return []
    return trades


def taker_fees(trades: list[Trade], fees: FeeSchedule) -> Decimal:
    """Total fee of the immediate fills, rounded per order as Kalshi does."""
    legs = [FeeLeg(t.count, mills_to_dollars(t.bought_price)) for t in trades]
    return sum(fees.order_fill_fees(legs), ZERO)


def gross_cost(trades: list[Trade], fees: FeeSchedule) -> Decimal:
    return sum((t.cost for t in trades), ZERO) + taker_fees(trades, fees)


def cash_needed(
    ticket: OrderTicket, trades: list[Trade], contracts_held: Decimal, fees: FeeSchedule
) -> Decimal:
    """Cost plus fees minus the $1 per YES/NO pair the fills net against the holding."""
    contracts, refund = contracts_held, ZERO
    for trade in trades:
        refund += pairs_netted(contracts, ticket.bought_side, trade.count)
        contracts += trade.count if ticket.bought_side == "yes" else -trade.count
    return gross_cost(trades, fees) - refund


def resting_escrow(ticket: OrderTicket, trades: list[Trade], fees: FeeSchedule) -> Decimal:
    """Cash a good-till-canceled remainder sets aside, in whole cents: its cost at the limit
    plus a bound on its maker fee (the per-order rounding never charges more than a cent
    above the fee of one fill)."""
    if ticket.time_in_force != GOOD_TILL_CANCELED:
        return ZERO
    remaining = ticket.count - sum((t.count for t in trades), ZERO)
    limit = mills_to_dollars(ticket.bought_limit)
    maker_fee = fees.maker_fee(remaining, limit)
    return ceil_to_cent(remaining * limit + maker_fee) + Decimal("0.01")
