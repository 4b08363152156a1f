"""Portfolio routes (authenticated when keys are registered): balance, positions, orders,
fills and settlements, and order entry / cancellation."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from starlette.routing import Route

from flb_pipeline.exchange.simulator.endpoints import Call, api_route
from flb_pipeline.exchange.simulator.errors import not_found
from flb_pipeline.exchange.simulator.listing import (
    MARKETS_MAX_LIMIT,
    limit_param,
    page_newest_first,
    page_positions,
    ts_param,
)
from flb_pipeline.exchange.simulator.orders import parse_ticket
from flb_pipeline.exchange.simulator.portfolio import Position
from flb_pipeline.exchange.simulator.wire_portfolio import (
    event_position_json,
    fill_json,
    market_position_json,
    order_json,
    settlement_json,
)


def balance(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    return {
        "balance": exchange.account.balance,
        "portfolio_value": exchange.portfolio_value(),
        "updated_ts": int(exchange.now),
    }


def positions(call: Call) -> dict[str, Any]:
    """Markets with a non-zero position or resting orders, in listing order."""
    resting = Counter(order.market for order in call.state.exchange.account.resting_orders())
    shown = _listed_positions(call, set(resting))
    page, cursor = page_positions(
        np.array(sorted(shown), dtype=np.int64),
        limit_param(call.params, 100, MARKETS_MAX_LIMIT),
        call.params.get("cursor"),
    )
    by_event: dict[str, list[Position]] = {}
    for position in shown.values():
        by_event.setdefault(position.event_ticker, []).append(position)
    return {
        "market_positions": [
            market_position_json(shown[market], resting[market]) for market in page.tolist()
        ],
        "event_positions": [event_position_json(e, group) for e, group in by_event.items()],
        "cursor": cursor,
    }


def _listed_positions(call: Call, resting_markets: set[int]) -> dict[int, Position]:
    """Held or working markets matching the ticker / event_ticker filters, by market."""
    account, world = call.state.exchange.account, call.state.exchange.world
    ticker, event_ticker = call.params.get("ticker"), call.params.get("event_ticker")
    held = {market for market, position in account.positions.items() if position.contracts}
    shown = {}
    for market in held | resting_markets:
        position = account.positions.get(market) or Position(
            market, world.market_tickers[market], world.event_of(market).ticker
        )
        if (not ticker or position.ticker == ticker) and (
            not event_ticker or position.event_ticker == event_ticker
        ):
            shown[market] = position
    return shown


def orders(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    ticker, status = call.params.get("ticker"), call.params.get("status")
    selected = [
        order
        for order in exchange.account.orders.values()
        if (not ticker or order.ticket.ticker == ticker) and (not status or order.status == status)
    ]
    page, cursor = page_newest_first(
        selected,
        [order.sequence for order in selected],
        limit_param(call.params, 100, MARKETS_MAX_LIMIT),
        call.params.get("cursor"),
    )
    return {
        "orders": [order_json(order, exchange.ids.user_id) for order in page],
        "cursor": cursor,
    }


def order_one(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order = exchange.account.orders.get(call.path["order_id"])
    if order is None:
        raise not_found(f"order {call.path['order_id']}")
    return {"order": order_json(order, exchange.ids.user_id)}


def create_order(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order = exchange.place(parse_ticket(call.payload))
    return {"order": order_json(order, exchange.ids.user_id)}


def cancel_order(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order, reduced_by = exchange.cancel(call.path["order_id"])
    return {"order": order_json(order, exchange.ids.user_id), "reduced_by": reduced_by}


def fills(call: Call) -> dict[str, Any]:
    params = call.params
    ticker, order_id = params.get("ticker"), params.get("order_id")
    low, high = ts_param(params, "min_ts"), ts_param(params, "max_ts")
    selected = [
        fill
        for fill in call.state.exchange.account.fills
        if (not ticker or fill.order.ticket.ticker == ticker)
        and (not order_id or fill.order.order_id == order_id)
        and (low is None or fill.ts >= low)
        and (high is None or fill.ts <= high)
    ]
    page, cursor = page_newest_first(
        selected,
        [fill.sequence for fill in selected],
        limit_param(params, 100, MARKETS_MAX_LIMIT),
        params.get("cursor"),
    )
    return {"fills": [fill_json(fill) for fill in page], "cursor": cursor}


def settlements(call: Call) -> dict[str, Any]:
    params = call.params
    ticker, event_ticker = params.get("ticker"), params.get("event_ticker")
    low, high = ts_param(params, "min_ts"), ts_param(params, "max_ts")
    selected = [
        settlement
        for settlement in call.state.exchange.account.settlements
        if (not ticker or settlement.ticker == ticker)
        and (not event_ticker or settlement.event_ticker == event_ticker)
        and (low is None or settlement.ts >= low)
        and (high is None or settlement.ts <= high)
    ]
    page, cursor = page_newest_first(
        selected,
        [settlement.sequence for settlement in selected],
        limit_param(params, 100, MARKETS_MAX_LIMIT),
        params.get("cursor"),
    )
    return {"settlements": [settlement_json(s) for s in page], "cursor": cursor}


ROUTES: list[Route] = [
    api_route("/portfolio/balance", balance, private=True),
    api_route("/portfolio/positions", positions, private=True),
    api_route("/portfolio/orders", orders, private=True),
    api_route("/portfolio/orders", create_order, method="POST", private=True, success=201),
    api_route("/portfolio/orders/{order_id}", order_one, private=True),
    api_route("/portfolio/orders/{order_id}", cancel_order, method="DELETE", private=True),
    api_route("/portfolio/fills", fills, private=True),
    api_route("/portfolio/settlements", settlements, private=True),
]
