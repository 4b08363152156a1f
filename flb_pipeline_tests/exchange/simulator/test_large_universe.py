"""A 5,000-market universe lists completely in pages of 1,000 (speed: `flb bench scan`)."""

from __future__ import annotations

import math

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import START, SimClient


def test_5000_open_markets_list_once_each_in_pages_of_1000() -> None:
    config = SimConfig(markets_target=5_000, clock_mode="manual", start_time=START)
    with SimulatorServer(config) as server, SimClient(server) as sim:
        markets, cursor, pages = [], "", 0
        while True:
            page = sim.get("/markets", status="open", limit=1000, cursor=cursor)
            markets += page["markets"]
            pages += 1
            cursor = page["cursor"]
            if not cursor:
                break
        open_markets = sim.control("/state")["open_markets"]
    tickers = [m["ticker"] for m in markets]
    assert len(tickers) == open_markets and 4_500 <= open_markets <= 5_500
    assert len(set(tickers)) == len(tickers)
    assert pages == math.ceil(len(tickers) / 1000)
