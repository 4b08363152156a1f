"""Portfolio routes (authenticated when keys are registered): balance, positions, orders,
fills, settlements, V2 order entry and cancellation, and order groups.

Kalshi's spec no longer has the legacy order-entry endpoints (`POST /portfolio/orders`,
`DELETE /portfolio/orders/{id}`); the simulator serves them only in legacy mode, so a client
still using them gets the 404 it would get from Kalshi.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from starlette.routing import Route

from flb_pipeline.exchange.simulator.endpoints import Call, api_route
from flb_pipeline.exchange.simulator.errors import ApiError, bad_request, not_found
from flb_pipeline.exchange.simulator.listing import (
    MARKETS_MAX_LIMIT,
    limit_param,
    page_newest_first,
    page_positions,
    ts_param,
)
from flb_pipeline.exchange.simulator.orders import parse_legacy_ticket, parse_v2_ticket
from flb_pipeline.exchange.simulator.portfolio import Position
from flb_pipeline.exchange.simulator.ratelimit import BATCH_CANCEL_COST, REQUEST_COST
from flb_pipeline.exchange.simulator.units import count_text, money_cents, money_text
from flb_pipeline.exchange.simulator.wire_portfolio import (
    create_order_v2_json,
    event_position_json,
    fill_json,
    market_position_json,
    order_group_json,
    order_json,
    settlement_json,
)

MAX_BATCH_ORDERS = 20


def _legacy(call: Call) -> bool:
    return call.state.config.legacy


def balance(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    cash = exchange.account.balance
    return {
        "balance": money_cents(cash),
        "balance_dollars": money_text(cash),
        "portfolio_value": money_cents(exchange.portfolio_value()),
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
    legacy = _legacy(call)
    return {
        "market_positions": [
            market_position_json(shown[market], resting[market], legacy=legacy)
            for market in page.tolist()
        ],
        "event_positions": [
            event_position_json(e, group, legacy=legacy) for e, group in by_event.items()
        ],
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
    user = exchange.ids.user_id
    return {
        "orders": [order_json(order, user, legacy=_legacy(call)) for order in page],
        "cursor": cursor,
    }


def order_one(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order = exchange.account.orders.get(call.path["order_id"])
    if order is None:
        raise not_found(f"order {call.path['order_id']}")
    return {"order": order_json(order, exchange.ids.user_id, legacy=_legacy(call))}


def create_order_v2(call: Call) -> dict[str, Any]:
    return create_order_v2_json(call.state.exchange.place(parse_v2_ticket(call.payload)))


def create_orders_v2(call: Call) -> dict[str, Any]:
    """Batched create: each order succeeds or fails on its own, in the order sent."""
    results = []
    for item in _batch(call.payload):
        try:
            results.append(create_order_v2_json(call.state.exchange.place(parse_v2_ticket(item))))
        except ApiError as error:
            client_id = item.get("client_order_id") if isinstance(item, dict) else None
            results.append({"client_order_id": client_id, "error": error.body()["error"]})
    return {"orders": results}


def _batch(payload: Any) -> list[Any]:
    items = payload.get("orders") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_ORDERS:
        raise bad_request("invalid_parameters", f"orders must list 1..{MAX_BATCH_ORDERS} orders")
    return items


def _batch_cost(per_item: int) -> Any:
    def cost(payload: Any) -> float:
        items = payload.get("orders") if isinstance(payload, dict) else None
        return per_item * max(1, len(items)) if isinstance(items, list) else REQUEST_COST

    return cost


def cancel_order_v2(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order, reduced_by = exchange.cancel(call.path["order_id"])
    return {
        "order_id": order.order_id,
        "client_order_id": order.ticket.client_order_id,
        "reduced_by": count_text(reduced_by),
        "ts_ms": int(exchange.now * 1000),
    }


def cancel_orders_v2(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    results = []
    for item in _batch(call.payload):
        order_id = item.get("order_id") if isinstance(item, dict) else None
        try:
            order, reduced_by = exchange.cancel(str(order_id))
            results.append(
                {
                    "order_id": order.order_id,
                    "client_order_id": order.ticket.client_order_id,
                    "reduced_by": count_text(reduced_by),
                    "ts_ms": int(exchange.now * 1000),
                }
            )
        except ApiError as error:
            results.append(
                {"order_id": str(order_id), "reduced_by": "0.00", "error": error.body()["error"]}
            )
    return {"orders": results}


def cancel_all_orders(call: Call) -> None:
    call.state.exchange.cancel_all()


def create_order_legacy(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order = exchange.place(parse_legacy_ticket(call.payload))
    return {"order": order_json(order, exchange.ids.user_id, legacy=True)}


def cancel_order_legacy(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    order, reduced_by = exchange.cancel(call.path["order_id"])
    return {
        "order": order_json(order, exchange.ids.user_id, legacy=True),
        "reduced_by": int(reduced_by),
        "reduced_by_fp": count_text(reduced_by),
    }


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
    return {"fills": [fill_json(fill, legacy=_legacy(call)) for fill in page], "cursor": cursor}


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
    return {
        "settlements": [settlement_json(s, legacy=_legacy(call)) for s in page],
        "cursor": cursor,
    }


def _contracts_limit(payload: Any) -> Decimal:
    """`contracts_limit_fp` (or the legacy integer `contracts_limit`) of a request body."""
    if not isinstance(payload, dict):
        raise bad_request("invalid_parameters", "the body must be a JSON object")
    fixed_point, whole = payload.get("contracts_limit_fp"), payload.get("contracts_limit")
    try:
        if isinstance(fixed_point, str):
            return Decimal(fixed_point)
        if isinstance(whole, int) and not isinstance(whole, bool):
            return Decimal(whole)
    except InvalidOperation as exc:
        raise bad_request("invalid_parameters", "contracts_limit_fp is not a number") from exc
    raise bad_request("invalid_parameters", "contracts_limit_fp is required")


def create_order_group(call: Call) -> dict[str, Any]:
    group = call.state.exchange.create_group(_contracts_limit(call.payload))
    return {"order_group_id": group.group_id, "subaccount": 0, "exchange_index": 0}


def order_groups(call: Call) -> dict[str, Any]:
    return {"order_groups": [order_group_json(g) for g in call.state.exchange.groups.values()]}


def order_group_one(call: Call) -> dict[str, Any]:
    group = call.state.exchange.group(call.path["order_group_id"])
    return {
        "is_auto_cancel_enabled": True,
        "contracts_limit_fp": count_text(group.contracts_limit),
        "orders": list(group.order_ids),
        "exchange_index": 0,
    }


def reset_order_group(call: Call) -> dict[str, Any]:
    call.state.exchange.group(call.path["order_group_id"]).reset()
    return {}


def trigger_order_group(call: Call) -> dict[str, Any]:
    call.state.exchange.trigger_group(call.path["order_group_id"])
    return {}


def set_order_group_limit(call: Call) -> dict[str, Any]:
    call.state.exchange.set_group_limit(call.path["order_group_id"], _contracts_limit(call.payload))
    return {}


def delete_order_group(call: Call) -> dict[str, Any]:
    call.state.exchange.delete_group(call.path["order_group_id"])
    return {}


def _legacy_only(handler: Any) -> Any:
    """A legacy endpoint: 404 like Kalshi's unless the simulator serves the legacy API."""

    def endpoint(call: Call) -> Any:
        if not _legacy(call):
            raise not_found("this endpoint")
        return handler(call)

    return endpoint


GROUP = "/portfolio/order_groups/{order_group_id}"
ROUTES: list[Route] = [
    api_route("/portfolio/balance", balance, private=True),
    api_route("/portfolio/positions", positions, private=True),
    api_route("/portfolio/orders", orders, private=True),
    api_route("/portfolio/orders/{order_id}", order_one, private=True),
    api_route(
        "/portfolio/events/orders", create_order_v2, method="POST", private=True, success=201
    ),
    api_route(
        "/portfolio/events/orders/batched",
        create_orders_v2,
        method="POST",
        private=True,
        success=201,
        cost=_batch_cost(REQUEST_COST),
    ),
    api_route(
        "/portfolio/events/orders/batched",
        cancel_orders_v2,
        method="DELETE",
        private=True,
        cost=_batch_cost(BATCH_CANCEL_COST),
    ),
    api_route(
        "/portfolio/events/orders", cancel_all_orders, method="DELETE", private=True, success=204
    ),
    api_route(
        "/portfolio/events/orders/{order_id}", cancel_order_v2, method="DELETE", private=True
    ),
    api_route(
        "/portfolio/orders",
        _legacy_only(create_order_legacy),
        method="POST",
        private=True,
        success=201,
    ),
    api_route(
        "/portfolio/orders/{order_id}",
        _legacy_only(cancel_order_legacy),
        method="DELETE",
        private=True,
    ),
    api_route("/portfolio/fills", fills, private=True),
    api_route("/portfolio/settlements", settlements, private=True),
    api_route(
        "/portfolio/order_groups/create",
        create_order_group,
        method="POST",
        private=True,
        success=201,
    ),
    api_route("/portfolio/order_groups", order_groups, private=True),
    api_route(GROUP, order_group_one, private=True),
    api_route(GROUP, delete_order_group, method="DELETE", private=True),
    api_route(GROUP + "/reset", reset_order_group, method="PUT", private=True),
    api_route(GROUP + "/trigger", trigger_order_group, method="PUT", private=True),
    api_route(GROUP + "/limit", set_order_group_limit, method="PUT", private=True),
]
