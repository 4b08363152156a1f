"""The /_sim control plane: clock, reset, state and hidden truth."""

from __future__ import annotations

import time
from decimal import Decimal

from flb_pipeline_tests.exchange.simulator.helpers import START, SimClient


def test_manual_clock_moves_only_when_advanced(sim: SimClient) -> None:
    clock = sim.control("/clock")
    assert (clock["now"], clock["now_ts"], clock["mode"]) == (
        "2026-11-29T12:00:00Z",
        START.timestamp(),
        "manual",
    )
    time.sleep(0.05)
    assert sim.control("/clock")["now_ts"] == START.timestamp()
    assert sim.advance(90)["now_ts"] == START.timestamp() + 90
    response = sim.http.post(f"{sim.server.root_url}/_sim/clock", json={"advance_seconds": -1})
    assert response.status_code == 400


def test_realtime_mode_follows_the_wall_clock_from_the_current_time(sim: SimClient) -> None:
    sim.control("/clock", {"mode": "realtime"})
    first = sim.control("/clock")["now_ts"]
    time.sleep(0.2)
    second = sim.control("/clock")["now_ts"]
    assert START.timestamp() <= first < second <= first + 5
    frozen = sim.control("/clock", {"mode": "manual"})["now_ts"]
    time.sleep(0.05)
    assert sim.control("/clock")["now_ts"] == frozen


def test_reset_applies_overrides_from_the_startup_config(sim: SimClient) -> None:
    sim.reset(markets_target=200, families=["weather"])
    open_markets = sim.all_markets(status="open")
    assert sim.categories(open_markets) == {"Climate and Weather"}
    assert 160 <= len(open_markets) <= 240
    sim.reset()
    assert len(sim.categories(sim.all_markets(status="open"))) == 4
    response = sim.http.post(f"{sim.server.root_url}/_sim/reset", json={"markets_targte": 5})
    assert response.status_code == 400


def test_state_counts_and_market_truth(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.buy(market, "yes", 2, market["yes_ask_dollars"])
    state = sim.control("/state")
    assert (state["orders"], state["fills"], state["positions"]) == (1, 1, 1)
    assert state["open_markets"] == len(sim.all_markets(status="open"))
    assert Decimal(state["balance"]) == sim.balance()
    truth = sim.control(f"/markets/{market['ticker']}")
    assert 0.0 < truth["true_probability"] < 1.0 and truth["status"] == "active"
    assert "result" not in truth
