"""Each fault knob does what it says, deterministically, and never touches /_sim."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient


def _statuses(sim: SimClient, requests: int) -> list[int]:
    return [sim.http.get("/exchange/status").status_code for _ in range(requests)]


def test_error_rate_answers_500_deterministically(sim: SimClient) -> None:
    sim.faults(error_rate=1.0)
    response = sim.http.get("/markets")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_server_error"
    assert sim.control("/clock")["mode"] == "manual"
    sim.reset(faults={"error_rate": 0.3})
    pattern = _statuses(sim, 200)
    assert 30 <= pattern.count(500) <= 90
    assert set(pattern) == {200, 500}
    sim.reset(faults={"error_rate": 0.3})
    assert _statuses(sim, 200) == pattern


def test_burst_of_429_without_retry_after(sim: SimClient) -> None:
    sim.faults(burst_429=3)
    responses = [sim.http.get("/markets", params={"limit": 1}) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert all("retry-after" not in r.headers for r in responses)
    assert sim.control("/faults")["burst_429"] == 0


def test_latency_is_applied_after_the_order_is_placed(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.faults(latency_ms=600, latency_path_prefix="/portfolio/orders")
    order = {"ticker": market["ticker"], "side": "yes", "count": 1, "client_order_id": "slow-1"}
    with pytest.raises(httpx.ReadTimeout):
        sim.http.post(
            "/portfolio/orders",
            json=order | {"yes_price": market["yes_ask"], "action": "buy", "type": "limit"},
            timeout=0.2,
        )
    started = time.monotonic()
    sim.get("/markets", limit=1)
    assert time.monotonic() - started < 0.3
    retry = sim.order(**order, yes_price=market["yes_ask"])
    assert retry.status_code == 409
    orders = sim.get("/portfolio/orders")["orders"]
    assert [o["client_order_id"] for o in orders] == ["slow-1"]


def test_latency_method_slows_only_that_method(sim: SimClient) -> None:
    sim.faults(latency_ms=600, latency_path_prefix="/portfolio/orders", latency_method="POST")
    started = time.monotonic()
    sim.get("/portfolio/orders")
    assert time.monotonic() - started < 0.3


def test_malformed_rate_truncates_successful_bodies_only(sim: SimClient) -> None:
    sim.faults(malformed_rate=1.0)
    broken = sim.http.get("/markets", params={"limit": 5})
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert sim.http.get("/markets/NOPE-1").json()["error"]["code"] == "not_found"


def test_missing_field_is_removed_from_market_objects(sim: SimClient) -> None:
    ticker = sim.two_sided()["ticker"]
    sim.faults(missing_field="yes_bid")
    listing = sim.get("/markets", limit=50)["markets"]
    single = sim.market(ticker)
    assert all("yes_bid" not in m and "yes_ask" in m for m in [*listing, single])


def test_crossed_book_rate_crosses_the_same_listed_markets_every_time(sim: SimClient) -> None:
    sim.faults(crossed_book_rate=0.3)
    listing = sim.get("/markets", status="open", limit=1000)["markets"]
    crossed = {m["ticker"] for m in listing if m["yes_bid"] >= m["yes_ask"]}
    assert 0.15 * len(listing) < len(crossed) < 0.45 * len(listing)
    again = sim.get("/markets", status="open", limit=1000)["markets"]
    assert {m["ticker"] for m in again if m["yes_bid"] >= m["yes_ask"]} == crossed
    assert all(
        m["yes_bid"] == m["yes_ask"] + 1 and m["no_ask"] == 100 - m["yes_bid"]
        for m in listing
        if m["ticker"] in crossed
    )
    sim.faults(crossed_book_rate=0.0)
    assert all(m["yes_bid"] < m["yes_ask"] for m in sim.get("/markets", limit=200)["markets"])


def test_frozen_books_stop_quotes_and_updated_time(sim: SimClient) -> None:
    ticker = sim.two_sided(min_life_s=300)["ticker"]
    sim.faults(frozen_books=True)
    frozen, frozen_book = sim.market(ticker), sim.book(ticker)
    sim.advance(120)
    assert sim.market(ticker)["updated_time"] == frozen["updated_time"]
    assert sim.book(ticker) == frozen_book
    sim.faults(frozen_books=False)
    assert sim.market(ticker)["updated_time"] > frozen["updated_time"]


def test_reject_orders_rejects_with_the_given_code(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.faults(reject_orders="exchange_unavailable")
    response = sim.order(ticker=market["ticker"], side="yes", count=1, yes_price=99)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "exchange_unavailable"
    assert sim.get("/portfolio/orders")["orders"] == []


def test_partial_fill_ratio_caps_the_fill(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.faults(partial_fill_ratio=0.5)
    order = sim.placed(ticker=market["ticker"], side="yes", count=11, yes_price=99)
    assert (order["fill_count"], order["status"]) == (5, "canceled")


def test_adverse_move_shifts_the_asks_against_the_taker(sim: SimClient) -> None:
    market = sim.two_sided(high=80)
    sim.faults(adverse_move_cents=3)
    missed = sim.placed(ticker=market["ticker"], side="yes", count=1, yes_price=market["yes_ask"])
    assert missed["fill_count"] == 0
    worse = sim.placed(
        ticker=market["ticker"], side="yes", count=1, yes_price=market["yes_ask"] + 3
    )
    assert worse["taker_fill_cost"] == market["yes_ask"] + 3


@pytest.mark.parametrize(("rig", "pays"), [("against_positions", False), ("for_positions", True)])
def test_rigged_settlements_go_against_or_for_held_positions(
    sim: SimClient, rig: str, pays: bool
) -> None:
    sim.faults(rig_settlements=rig)
    markets = [m for m in sim.all_markets(status="open") if 5 <= m["yes_bid"] < m["yes_ask"] <= 95]
    for index, market in enumerate(markets[:6]):
        side = "yes" if index % 2 else "no"
        price = market["yes_ask"] if side == "yes" else market["no_ask"]
        sim.placed(ticker=market["ticker"], side=side, count=2, **{f"{side}_price": price})
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    settlements = sim.get("/portfolio/settlements")["settlements"]
    assert len(settlements) == 6
    assert all(s["revenue"] == (200 if pays else 0) for s in settlements)
    for settlement in settlements:
        assert sim.market(settlement["ticker"])["result"] == settlement["market_result"]


def test_unknown_fault_fields_are_rejected(sim: SimClient) -> None:
    response = sim.http.post(f"{sim.server.root_url}/_sim/faults", json={"eror_rate": 1})
    assert response.status_code == 400
