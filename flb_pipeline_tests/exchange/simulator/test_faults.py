"""Each fault knob does what it says, deterministically, and never touches /_sim."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient, epoch


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
    sim.faults(latency_ms=600, latency_path_prefix="/portfolio/events/orders")
    order = {
        "ticker": market["ticker"], "side": "bid", "count": "1", "client_order_id": "slow-1",
        "price": market["yes_ask_dollars"],
    }  # fmt: skip
    with pytest.raises(httpx.ReadTimeout):
        sim.http.post(
            "/portfolio/events/orders",
            json=order
            | {"time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"},
            timeout=0.2,
        )
    started = time.monotonic()
    sim.get("/markets", limit=1)
    assert time.monotonic() - started < 0.3
    retry = sim.order(**order)
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
    sim.faults(missing_field="yes_bid_dollars")
    listing = sim.get("/markets", limit=50)["markets"]
    single = sim.market(ticker)
    assert all("yes_bid_dollars" not in m and "yes_ask_dollars" in m for m in [*listing, single])


def test_crossed_book_rate_crosses_the_same_listed_markets_every_time(sim: SimClient) -> None:
    sim.faults(crossed_book_rate=0.3)

    def crossed_in(markets: list[dict]) -> set[str]:
        return {m["ticker"] for m in markets if _bid(m) >= _ask(m) and _ask(m) < 1}

    listing = sim.get("/markets", status="open", limit=1000)["markets"]
    crossed = crossed_in(listing)
    assert 0.15 * len(listing) < len(crossed) < 0.45 * len(listing)
    assert crossed_in(sim.get("/markets", status="open", limit=1000)["markets"]) == crossed
    assert all(
        _bid(m) == _ask(m) + Decimal("0.01") and Decimal(m["no_ask_dollars"]) == 1 - _bid(m)
        for m in listing
        if m["ticker"] in crossed
    )
    sim.faults(crossed_book_rate=0.0)
    assert not crossed_in(sim.get("/markets", limit=200)["markets"])


def _bid(market: dict) -> Decimal:
    return Decimal(market["yes_bid_dollars"])


def _ask(market: dict) -> Decimal:
    return Decimal(market["yes_ask_dollars"])


def test_frozen_books_stop_quotes_and_the_tape(sim: SimClient) -> None:
    now = sim.control("/clock")["now_ts"]
    markets = [
        m["ticker"] for m in sim.all_markets(status="open") if epoch(m["close_time"]) - now > 300
    ]
    sim.faults(frozen_books=True)
    frozen = {t: (sim.market(t)["yes_bid_dollars"], sim.book(t)) for t in markets[:20]}
    tape = sim.get("/markets/trades", limit=5)["trades"]
    sim.advance(120)
    assert {t: (sim.market(t)["yes_bid_dollars"], sim.book(t)) for t in frozen} == frozen
    assert sim.get("/markets/trades", limit=5)["trades"] == tape
    sim.faults(frozen_books=False)
    thawed = {t: (sim.market(t)["yes_bid_dollars"], sim.book(t)) for t in frozen}
    assert thawed != frozen


def test_reject_orders_rejects_with_the_given_code(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.faults(reject_orders="exchange_unavailable")
    response = sim.order(ticker=market["ticker"], side="bid", count="1", price="0.9900")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "exchange_unavailable"
    assert sim.get("/portfolio/orders")["orders"] == []


def test_partial_fill_ratio_caps_the_fill(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.faults(partial_fill_ratio=0.5)
    order = sim.placed(ticker=market["ticker"], side="bid", count="11", price="0.9900")
    assert (order["fill_count_fp"], order["status"]) == ("5.00", "canceled")


def test_adverse_move_shifts_the_asks_against_the_taker(sim: SimClient) -> None:
    market = sim.two_sided(high="0.80", structure="linear_cent")
    sim.faults(adverse_move_cents=3)
    missed = sim.buy(market, "yes", 1, market["yes_ask_dollars"])
    assert missed["fill_count_fp"] == "0.00"
    worse_price = _ask(market) + Decimal("0.03")
    worse = sim.buy(market, "yes", 1, str(worse_price))
    assert Decimal(worse["taker_fill_cost_dollars"]) == worse_price


@pytest.mark.parametrize(("rig", "pays"), [("against_positions", False), ("for_positions", True)])
def test_rigged_settlements_go_against_or_for_held_positions(
    sim: SimClient, rig: str, pays: bool
) -> None:
    sim.faults(rig_settlements=rig)
    markets = [
        m
        for m in sim.all_markets(status="open")
        if Decimal("0.05") <= _bid(m) < _ask(m) <= Decimal("0.95")
    ]
    for index, market in enumerate(markets[:6]):
        side = "yes" if index % 2 else "no"
        sim.buy(market, side, 2, market[f"{side}_ask_dollars"])
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    settlements = sim.get("/portfolio/settlements")["settlements"]
    assert len(settlements) == 6
    assert all(s["revenue"] == (200 if pays else 0) for s in settlements)
    for settlement in settlements:
        assert sim.market(settlement["ticker"])["result"] == settlement["market_result"]


def test_unknown_fault_fields_are_rejected(sim: SimClient) -> None:
    response = sim.http.post(f"{sim.server.root_url}/_sim/faults", json={"eror_rate": 1})
    assert response.status_code == 400
