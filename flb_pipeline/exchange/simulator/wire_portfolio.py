"""Portfolio JSON as Kalshi shapes it: orders, fills, positions, settlements, order groups.

Orders and fills carry their direction as `book_side` (bid/ask on the YES book) and
`outcome_side` (the outcome they are positioned for); the deprecated `side`/`action` pair and
the integer cent/count fields appear only on a legacy simulator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flb_pipeline.exchange.simulator.order_groups import OrderGroup
from flb_pipeline.exchange.simulator.portfolio import (
    FillRecord,
    Order,
    Position,
    SettlementRecord,
)
from flb_pipeline.exchange.simulator.units import (
    ONE_DOLLAR_MILLS,
    PRICE_TEXT,
    count_text,
    iso,
    legacy_cents,
    money_cents,
    money_text,
)


def order_json(order: Order, user_id: str, *, legacy: bool) -> dict[str, Any]:
    ticket = order.ticket
    yes_price = ticket.yes_limit
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "user_id": user_id,
        "client_order_id": ticket.client_order_id,
        "ticker": ticket.ticker,
        "outcome_side": ticket.bought_side,
        "book_side": ticket.book_side,
        "type": "limit",
        "status": order.status,
        "yes_price_dollars": PRICE_TEXT[yes_price],
        "no_price_dollars": PRICE_TEXT[ONE_DOLLAR_MILLS - yes_price],
        "fill_count_fp": count_text(order.fill_count),
        "remaining_count_fp": count_text(order.remaining),
        "initial_count_fp": count_text(ticket.count),
        "taker_fill_cost_dollars": money_text(order.taker_fill_cost),
        "maker_fill_cost_dollars": money_text(order.maker_fill_cost),
        "taker_fees_dollars": money_text(order.taker_fees),
        "maker_fees_dollars": money_text(order.maker_fees),
        "self_trade_prevention_type": ticket.self_trade_prevention_type,
        "cancel_order_on_pause": ticket.cancel_order_on_pause,
        "created_time": iso(order.created_ts),
        "last_update_time": iso(order.last_update_ts),
        "subaccount_number": 0,
        "exchange_index": 0,
    }
    if ticket.order_group_id:
        body["order_group_id"] = ticket.order_group_id
    if ticket.expiration_ts is not None:
        body["expiration_time"] = iso(ticket.expiration_ts)
    if legacy:
        body.update(
            side=ticket.side,
            action=ticket.action,
            yes_price=legacy_cents(yes_price),
            no_price=legacy_cents(ONE_DOLLAR_MILLS - yes_price),
            fill_count=int(order.fill_count),
            remaining_count=int(order.remaining),
            initial_count=int(ticket.count),
            taker_fees=money_cents(order.taker_fees),
            maker_fees=money_cents(order.maker_fees),
            taker_fill_cost=money_cents(order.taker_fill_cost),
            maker_fill_cost=money_cents(order.maker_fill_cost),
            time_in_force=ticket.time_in_force,
            post_only=ticket.post_only,
        )
    return body


def create_order_v2_json(order: Order) -> dict[str, Any]:
    """`CreateOrderV2Response`: counts and the average price and fee of what filled."""
    filled = order.fill_count
    cost = order.taker_fill_cost + order.maker_fill_cost
    fees = order.taker_fees + order.maker_fees
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "client_order_id": order.ticket.client_order_id,
        "fill_count": count_text(filled),
        "remaining_count": count_text(order.remaining),
        "ts_ms": int(order.created_ts * 1000),
    }
    if filled:
        body["average_fill_price"] = money_text(cost / filled)
        body["average_fee_paid"] = money_text(fees / filled)
    return body


def fill_json(fill: FillRecord, *, legacy: bool) -> dict[str, Any]:
    ticket = fill.order.ticket
    own_yes = ticket.side == "yes"
    yes_price = fill.price if own_yes else ONE_DOLLAR_MILLS - fill.price
    body: dict[str, Any] = {
        "fill_id": fill.fill_id,
        "trade_id": fill.fill_id,
        "order_id": fill.order.order_id,
        "client_order_id": ticket.client_order_id,
        "ticker": ticket.ticker,
        "market_ticker": ticket.ticker,
        "outcome_side": ticket.bought_side,
        "book_side": ticket.book_side,
        "count_fp": count_text(fill.count),
        "yes_price_dollars": PRICE_TEXT[yes_price],
        "no_price_dollars": PRICE_TEXT[ONE_DOLLAR_MILLS - yes_price],
        "is_taker": fill.is_taker,
        "fee_cost": money_text(fill.fee),
        "created_time": iso(fill.ts),
        "ts": int(fill.ts),
        "exchange_index": 0,
        "subaccount_number": 0,
    }
    if legacy:
        body.update(
            side=ticket.side,
            action=ticket.action,
            count=int(fill.count),
            price=fill.price / ONE_DOLLAR_MILLS,
            yes_price=legacy_cents(yes_price),
            no_price=legacy_cents(ONE_DOLLAR_MILLS - yes_price),
            yes_price_fixed=PRICE_TEXT[yes_price],
            no_price_fixed=PRICE_TEXT[ONE_DOLLAR_MILLS - yes_price],
        )
    return body


def market_position_json(position: Position, resting_orders: int, *, legacy: bool) -> dict:
    body: dict[str, Any] = {
        "ticker": position.ticker,
        "exchange_index": 0,
        "total_traded_dollars": money_text(position.total_traded),
        "position_fp": count_text(position.contracts),
        "market_exposure_dollars": money_text(position.cost),
        "realized_pnl_dollars": money_text(position.realized_pnl),
        "fees_paid_dollars": money_text(position.fees_paid),
        "last_updated_ts": iso(position.last_updated_ts),
        "resting_orders_count": resting_orders,
    }
    if legacy:
        body.update(
            total_traded=money_cents(position.total_traded),
            position=int(position.contracts),
            market_exposure=money_cents(position.cost),
            realized_pnl=money_cents(position.realized_pnl),
            fees_paid=money_cents(position.fees_paid),
        )
    return body


def event_position_json(event_ticker: str, positions: list[Position], *, legacy: bool) -> dict:
    cost = sum((position.cost for position in positions), Decimal(0))
    realized = sum((position.realized_pnl for position in positions), Decimal(0))
    fees = sum((position.fees_paid for position in positions), Decimal(0))
    shares = sum((abs(position.contracts) for position in positions), Decimal(0))
    body: dict[str, Any] = {
        "event_ticker": event_ticker,
        "total_cost_dollars": money_text(cost),
        "total_cost_shares_fp": count_text(shares),
        "event_exposure_dollars": money_text(cost),
        "realized_pnl_dollars": money_text(realized),
        "fees_paid_dollars": money_text(fees),
    }
    if legacy:
        body.update(
            total_cost=money_cents(cost),
            total_cost_shares=int(shares),
            event_exposure=money_cents(cost),
            realized_pnl=money_cents(realized),
            fees_paid=money_cents(fees),
        )
    return body


def settlement_json(settlement: SettlementRecord, *, legacy: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": settlement.ticker,
        "exchange_index": 0,
        "event_ticker": settlement.event_ticker,
        "market_result": "yes" if settlement.yes_won else "no",
        "yes_count_fp": count_text(settlement.yes_count),
        "yes_total_cost_dollars": money_text(settlement.yes_total_cost),
        "no_count_fp": count_text(settlement.no_count),
        "no_total_cost_dollars": money_text(settlement.no_total_cost),
        "revenue": money_cents(settlement.revenue),
        "settled_time": iso(settlement.ts),
        "fee_cost": "0.0000",
        "value": 100 if settlement.yes_won else 0,
    }
    if legacy:
        body.update(
            yes_count=int(settlement.yes_count),
            no_count=int(settlement.no_count),
            yes_total_cost=money_cents(settlement.yes_total_cost),
            no_total_cost=money_cents(settlement.no_total_cost),
        )
    return body


def order_group_json(group: OrderGroup) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "contracts_limit_fp": count_text(group.contracts_limit),
        "is_auto_cancel_enabled": True,
        "exchange_index": 0,
    }
