"""Exchange-wide rules of Kalshi's current API: order groups, trading pauses, the historical
tier, the API rate limit and the legacy wire form."""

from __future__ import annotations

from decimal import Decimal

import httpx

from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, START, SimClient, epoch

D = Decimal


def _cheap(sim: SimClient, count: int = 3) -> list[dict]:
    """Open markets with depth to buy from, one per event."""
    seen, markets = set(), []
    for market in sim.all_markets(status="open"):
        priced = D("0.10") <= D(market["yes_ask_dollars"]) <= D("0.90")
        if priced and market["event_ticker"] not in seen:
            seen.add(market["event_ticker"])
            markets.append(market)
    return markets[:count]


def test_an_order_group_stops_an_over_send(sim: SimClient) -> None:
    """A runaway sender in a group limited to 4 contracts: once fills pass the limit the
    group trips, its resting orders are cancelled and every later order is refused."""
    group_id = sim.http.post(
        "/portfolio/order_groups/create", json={"contracts_limit_fp": "4"}
    ).json()["order_group_id"]
    markets = _cheap(sim, 3)
    resting = sim.placed(
        ticker=markets[2]["ticker"], side="bid", count="2", price=markets[2]["yes_bid_dollars"],
        time_in_force="good_till_canceled", order_group_id=group_id,
    )  # fmt: skip
    answers = [
        sim.order(
            ticker=market["ticker"],
            side="bid",
            count="3",
            price=market["yes_ask_dollars"],
            order_group_id=group_id,
        )
        for market in (markets[0], markets[1], markets[0], markets[1])
    ]
    assert [a.status_code for a in answers] == [201, 201, 400, 400]
    assert {a.json()["error"]["code"] for a in answers[2:]} == {"order_group_triggered"}
    filled = sum(D(f["count_fp"]) for f in sim.get("/portfolio/fills")["fills"])
    assert filled == 6, "the second order tipped the group over; nothing after it filled"
    cancelled = sim.get(f"/portfolio/orders/{resting['order_id']}")["order"]
    assert cancelled["status"] == "canceled"
    group = sim.get(f"/portfolio/order_groups/{group_id}")
    assert group["contracts_limit_fp"] == "4.00" and len(group["orders"]) == 3
    sim.http.put(f"/portfolio/order_groups/{group_id}/reset")
    again = sim.order(
        ticker=markets[0]["ticker"], side="bid", count="1", price=markets[0]["yes_ask_dollars"],
        order_group_id=group_id,
    )  # fmt: skip
    assert again.status_code == 201


def test_a_group_counts_fills_over_a_rolling_15_seconds(sim: SimClient) -> None:
    group_id = sim.http.post(
        "/portfolio/order_groups/create", json={"contracts_limit_fp": "3"}
    ).json()["order_group_id"]
    market = _cheap(sim, 1)[0]

    def buy_two() -> httpx.Response:
        current = sim.market(market["ticker"])
        return sim.order(
            ticker=market["ticker"], side="bid", count="2", price=current["yes_ask_dollars"],
            order_group_id=group_id,
        )  # fmt: skip

    assert buy_two().status_code == 201
    sim.advance(16)
    assert buy_two().status_code == 201, "the first fill left the window"
    assert buy_two().status_code == 201
    assert buy_two().json()["error"]["code"] == "order_group_triggered"
    assert sim.http.post("/portfolio/order_groups/create", json={}).status_code == 400


def test_a_pause_refuses_orders_and_cancels_those_that_asked(sim: SimClient) -> None:
    markets = _cheap(sim, 2)
    keep = sim.placed(
        ticker=markets[0]["ticker"], side="bid", count="1", price=markets[0]["yes_bid_dollars"],
        time_in_force="good_till_canceled",
    )  # fmt: skip
    cancel = sim.placed(
        ticker=markets[1]["ticker"], side="bid", count="1", price=markets[1]["yes_bid_dollars"],
        time_in_force="good_till_canceled", cancel_order_on_pause=True,
    )  # fmt: skip
    paused = sim.control("/pauses", {"start_in_s": 5, "duration_s": 600})
    assert paused["trading_active"]
    sim.advance(6)
    status = sim.get("/exchange/status")
    assert status == {
        "exchange_active": True,
        "trading_active": False,
        "exchange_estimated_resume_time": paused["pauses"][0]["end"],
    }
    refused = sim.order(
        ticker=markets[0]["ticker"], side="bid", count="1", price=markets[0]["yes_ask_dollars"]
    )
    assert refused.json()["error"]["code"] == "trading_is_paused"
    assert sim.get(f"/portfolio/orders/{cancel['order_id']}")["order"]["status"] == "canceled"
    assert sim.get(f"/portfolio/orders/{keep['order_id']}")["order"]["status"] == "resting"
    sim.advance(600)
    assert sim.get("/exchange/status")["trading_active"]


def test_the_weekly_maintenance_window_is_published_and_enforced(sim: SimClient) -> None:
    """Thursdays 3-5 AM New York: the next one after Sunday 2026-11-29 is Dec 3, 08:00 UTC."""
    windows = sim.get("/exchange/schedule")["schedule"]["maintenance_windows"]
    assert windows[0] == {
        "start_datetime": "2026-12-03T08:00:00Z",
        "end_datetime": "2026-12-03T10:00:00Z",
    }
    sim.advance(epoch("2026-12-03T08:30:00Z") - START.timestamp())
    assert not sim.get("/exchange/status")["trading_active"]


def test_settled_markets_move_to_the_historical_tier_after_the_cutoff(sim: SimClient) -> None:
    """No market is in both tiers, none in neither, and the live tier answers 404 for a
    historical market, as Kalshi does."""
    cutoff = epoch(sim.get("/historical/cutoff")["market_settled_ts"])
    assert cutoff == START.timestamp() - BASE_CONFIG.historical_cutoff_s
    live = sim.all_markets(status="settled")
    old = sim.all_markets("/historical/markets")
    assert live and old
    assert all(epoch(m["settlement_ts"]) >= cutoff for m in live)
    assert all(epoch(m["settlement_ts"]) < cutoff for m in old)
    assert not {m["ticker"] for m in live} & {m["ticker"] for m in old}
    assert len(live) + len(old) == len(sim.settled_markets())
    ticker = old[0]["ticker"]
    assert sim.http.get(f"/markets/{ticker}").status_code == 404
    assert sim.http.get(f"/historical/markets/{ticker}").status_code == 200
    assert sim.http.get(f"/historical/markets/{live[0]['ticker']}").status_code == 404


def test_the_rate_tier_answers_429_as_kalshi_does(sim: SimClient) -> None:
    sim.reset(rate_tier="basic")
    limits = sim.get("/account/limits")
    assert limits["usage_tier"] == "basic"
    assert (limits["read"]["refill_rate"], limits["write"]["refill_rate"]) == (200, 100)
    answers = [sim.http.get("/exchange/status") for _ in range(40)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and len(refused) <= 25
    assert refused[0].json() == {"error": "too many requests"}
    assert "retry-after" not in refused[0].headers


def test_the_legacy_form_keeps_integer_fields_and_old_endpoints() -> None:
    config = BASE_CONFIG.merged({"legacy": True})
    with SimulatorServer(config) as server, SimClient(server) as sim:
        market = sim.two_sided()
        assert market["yes_ask"] == round(100 * D(market["yes_ask_dollars"]))
        assert "category" in market and "volume" in market
        legacy = {
            "ticker": market["ticker"], "side": "yes", "action": "buy", "count": 1,
            "yes_price": market["yes_ask"], "type": "limit",
            "time_in_force": "immediate_or_cancel",
        }  # fmt: skip
        placed = sim.http.post("/portfolio/orders", json=legacy)
        assert placed.status_code == 201
        order = placed.json()["order"]
        assert (order["side"], order["action"], order["fill_count"]) == ("yes", "buy", 1)
        assert "orderbook" in sim.get(f"/markets/{market['ticker']}/orderbook")
