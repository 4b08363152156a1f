"""A full scan of a large universe must stay cheap: 5,000 open markets in pages of 1,000."""

from __future__ import annotations

import time

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import START, SimClient

SCAN_BUDGET_S = 2.0


def test_full_scan_of_5000_open_markets_is_fast() -> None:
    config = SimConfig(markets_target=5_000, clock_mode="manual", start_time=START)
    with SimulatorServer(config) as server, SimClient(server) as sim:
        started = time.perf_counter()
        markets, cursor, pages = [], "", 0
        while True:
            page = sim.get("/markets", status="open", limit=1000, cursor=cursor)
            markets += page["markets"]
            pages += 1
            cursor = page["cursor"]
            if not cursor:
                break
        elapsed = time.perf_counter() - started
    assert 4_500 <= len(markets) <= 5_500 and pages >= 5
    assert elapsed < SCAN_BUDGET_S
