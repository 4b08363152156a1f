"""A whole trading cycle against Kalshi's API exactly as it answers today.

In front of a simulator that still serves the old form (legacy mode), a loopback proxy
answers the legacy order endpoints with 404, strips every integer-cent and integer-count
field, and dates every `updated_time` days back. Orders must reach the exchange through the
V2 endpoints, fills and positions must reconcile, and stale_book must pass: a quote is as
old as the listing page that carried it, whatever `updated_time` says.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.schema import API_PREFIX
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import (
    TRADING_WORLD,
    SimControl,
    check_results,
    definitions_for,
    run_job,
    small_world,
)
from flb_pipeline_tests.faults.hostile import HostileExchange

LEGACY_ORDER_PATHS = (f"{API_PREFIX}/portfolio/orders",)
LEGACY_INTEGERS = frozenset(
    {
        "yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "previous_yes_bid",
        "previous_yes_ask", "previous_price", "volume", "volume_24h", "open_interest",
        "liquidity", "notional_value", "tick_size", "risk_limit_cents", "settlement_value",
        "yes_price", "no_price", "count", "fill_count", "remaining_count", "initial_count",
        "taker_fees", "maker_fees", "taker_fill_cost", "maker_fill_cost", "position",
        "market_exposure", "realized_pnl", "fees_paid", "total_traded", "total_cost",
        "total_cost_shares", "event_exposure", "yes_count", "no_count", "yes_total_cost",
        "no_total_cost", "open", "low", "high", "close", "mean", "previous",
    }
)  # fmt: skip
"""Integer cents and integer counts Kalshi stopped sending on 2026-03-12."""
LEGACY_OBJECTS = frozenset({"orderbook"})
DAYS_AGO = "2026-02-25T00:00:00Z"


def current_form(value: Any) -> Any:
    """The body as Kalshi sends it now: integer cents and counts gone, metadata times old."""
    if isinstance(value, list):
        return [current_form(item) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        integer = isinstance(item, int) and not isinstance(item, bool)
        if key in LEGACY_OBJECTS or (key in LEGACY_INTEGERS and integer):
            continue
        kept[key] = DAYS_AGO if key == "updated_time" else current_form(item)
    return kept


class CurrentApiExchange(HostileExchange):
    """Kalshi's answers as of late 2026, whatever the simulator behind still serves."""

    def __init__(self, upstream: SimulatorServer) -> None:
        super().__init__(upstream)
        self.requests: list[tuple[str, str]] = []

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append((request.method, path))
        if path.startswith(LEGACY_ORDER_PATHS) and request.method in ("POST", "DELETE"):
            body = {"error": {"code": "not_found", "message": "no such route", "details": ""}}
            return Response(json.dumps(body), 404, media_type="application/json")
        upstream = await self._forward(request, await request.body())
        if upstream.status_code >= 300 or not upstream.content:
            return self._passed(upstream)
        body = json.dumps(current_form(upstream.json()))
        return Response(body, upstream.status_code, media_type="application/json")


def test_current_form_strips_legacy_integers_and_keeps_the_current_ones() -> None:
    market = {"yes_bid": 88, "yes_bid_dollars": "0.8800", "updated_time": "now", "volume_fp": "3"}
    candle = {"yes_bid": {"close": 88, "close_dollars": "0.8800"}, "end_period_ts": 60}
    balance = {"balance": 100, "balance_dollars": "1.0000", "portfolio_value": 0}
    assert current_form(market) == {
        "yes_bid_dollars": "0.8800", "updated_time": DAYS_AGO, "volume_fp": "3"
    }  # fmt: skip
    assert current_form(candle) == {"yes_bid": {"close_dollars": "0.8800"}, "end_period_ts": 60}
    assert current_form(balance) == balance, "what the current SDK still wants stays"


def test_a_cycle_trades_and_reconciles_through_the_current_api_only(trading_db) -> None:
    legacy_world = small_world(**TRADING_WORLD, legacy=True)
    with SimulatorServer(legacy_world) as upstream, CurrentApiExchange(upstream) as kalshi:
        defs = definitions_for(kalshi.url, trading_db)
        cycle = run_job(defs, "trading_job")
        assert cycle.success
        assert all(check_results(cycle).values()), check_results(cycle)
        assert materialization_metadata(cycle, "order_submissions")["orders_sent"] > 0
        assert run_job(defs, "reconcile_job").success
        control = SimControl(upstream.root_url)
        at_exchange = control.listing("/portfolio/orders", field="orders")
        held = {
            p["ticker"]: Decimal(p["position_fp"])
            for p in control.listing("/portfolio/positions", field="market_positions")
        }
    posts = {path for method, path in kalshi.requests if method == "POST"}
    assert posts <= {
        f"{API_PREFIX}/portfolio/events/orders",
        f"{API_PREFIX}/portfolio/events/orders/batched",
        f"{API_PREFIX}/portfolio/order_groups/create",
    }
    assert f"{API_PREFIX}/portfolio/orders" not in posts
    with Store(trading_db).connect() as con:
        local = dict(con.execute("SELECT client_order_id, status FROM orders").fetchall())
        lots = con.execute(
            "SELECT ticker, side, sum(contracts) FROM positions GROUP BY 1, 2"
        ).fetchall()
        ((group_id, limit),) = con.execute(
            "SELECT order_group_id, contracts_limit FROM order_groups"
        ).fetchall()
        (intended,) = con.execute("SELECT sum(contracts) FROM orders").fetchone()
    assert local == {o["client_order_id"]: o["status"] for o in at_exchange}
    assert {o["order_group_id"] for o in at_exchange} == {group_id}, "one group per cycle"
    assert limit == math.ceil(intended), "its limit is the cycle's intended total"
    assert all(o["cancel_order_on_pause"] for o in at_exchange)
    signed = {t: c if side == "yes" else -c for t, side, c in lots}
    assert signed == {t: n for t, n in held.items() if n}
