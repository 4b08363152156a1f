"""Portfolio JSON as Kalshi shapes it: orders, fills, positions, settlements (cents + dollars)."""

from __future__ import annotations

from typing import Any

from flb_pipeline.exchange.simulator.portfolio import (
    FillRecord,
    Order,
    Position,
    SettlementRecord,
)
from flb_pipeline.exchange.simulator.units import count_fp, dollars, iso


def order_json(order: Order, user_id: str) -> dict[str, Any]:
    ticket = order.ticket
    yes_price = ticket.yes_limit
    return {
        "order_id": order.order_id,
        "user_id": user_id,
        "client_order_id": ticket.client_order_id,
        "ticker": ticket.ticker,
        "side": ticket.side,
        "action": ticket.action,
        "type": "limit",
        "status": order.status,
        "yes_price": yes_price,
        "no_price": 100 - yes_price,
        "yes_price_dollars": dollars(yes_price),
        "no_price_dollars": dollars(100 - yes_price),
        "fill_count": order.fill_count,
        "fill_count_fp": count_fp(order.fill_count),
        "remaining_count": order.remaining,
        "remaining_count_fp": count_fp(order.remaining),
        "initial_count": ticket.count,
        "initial_count_fp": count_fp(ticket.count),
        "taker_fees": order.taker_fees,
        "maker_fees": order.maker_fees,
        "taker_fees_dollars": dollars(order.taker_fees),
        "maker_fees_dollars": dollars(order.maker_fees),
        "taker_fill_cost": order.taker_fill_cost,
        "maker_fill_cost": order.maker_fill_cost,
        "taker_fill_cost_dollars": dollars(order.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(order.maker_fill_cost),
        "queue_position": 0,
        "time_in_force": ticket.time_in_force,
        "post_only": ticket.post_only,
        "created_time": iso(order.created_ts),
        "last_update_time": iso(order.last_update_ts),
    }


def fill_json(fill: FillRecord) -> dict[str, Any]:
    """`price` is the deprecated float dollar price of the order's side."""
    ticket = fill.order.ticket
    yes_price = fill.price if ticket.side == "yes" else 100 - fill.price
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.fill_id,
        "order_id": fill.order.order_id,
        "client_order_id": ticket.client_order_id,
        "ticker": ticket.ticker,
        "market_ticker": ticket.ticker,
        "side": ticket.side,
        "action": ticket.action,
        "count": fill.count,
        "count_fp": count_fp(fill.count),
        "price": fill.price / 100,
        "yes_price": yes_price,
        "no_price": 100 - yes_price,
        "yes_price_fixed": dollars(yes_price),
        "no_price_fixed": dollars(100 - yes_price),
        "is_taker": fill.is_taker,
        "fee_cost": dollars(fill.fee),
        "created_time": iso(fill.ts),
        "ts": int(fill.ts),
    }


def market_position_json(position: Position, resting_orders: int) -> dict[str, Any]:
    return {
        "ticker": position.ticker,
        "total_traded": position.total_traded,
        "total_traded_dollars": dollars(position.total_traded),
        "position": position.contracts,
        "position_fp": count_fp(position.contracts),
        "market_exposure": position.cost,
        "market_exposure_dollars": dollars(position.cost),
        "realized_pnl": position.realized_pnl,
        "realized_pnl_dollars": dollars(position.realized_pnl),
        "resting_orders_count": resting_orders,
        "fees_paid": position.fees_paid,
        "fees_paid_dollars": dollars(position.fees_paid),
        "last_updated_ts": iso(position.last_updated_ts),
    }


def event_position_json(event_ticker: str, positions: list[Position]) -> dict[str, Any]:
    cost = sum(position.cost for position in positions)
    realized = sum(position.realized_pnl for position in positions)
    fees = sum(position.fees_paid for position in positions)
    return {
        "event_ticker": event_ticker,
        "total_cost": cost,
        "total_cost_dollars": dollars(cost),
        "total_cost_shares": sum(abs(position.contracts) for position in positions),
        "event_exposure": cost,
        "event_exposure_dollars": dollars(cost),
        "realized_pnl": realized,
        "realized_pnl_dollars": dollars(realized),
        "fees_paid": fees,
        "fees_paid_dollars": dollars(fees),
    }


def settlement_json(settlement: SettlementRecord) -> dict[str, Any]:
    return {
        "ticker": settlement.ticker,
        "event_ticker": settlement.event_ticker,
        "market_result": "yes" if settlement.yes_won else "no",
        "yes_count": settlement.yes_count,
        "yes_count_fp": count_fp(settlement.yes_count),
        "yes_total_cost": settlement.yes_total_cost,
        "no_count": settlement.no_count,
        "no_count_fp": count_fp(settlement.no_count),
        "no_total_cost": settlement.no_total_cost,
        "revenue": settlement.revenue,
        "settled_time": iso(settlement.ts),
        "fee_cost": "0.0000",
        "value": 100 if settlement.yes_won else 0,
    }
