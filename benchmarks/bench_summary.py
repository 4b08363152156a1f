"""Daily summary over 100,000 closed trades and 1,000,000 API-call rows.

.venv/bin/python -m benchmarks.bench_summary
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks.common import peak_rss_mb, percentiles
from flb_pipeline.core.ledger import ClosedTrade
from flb_pipeline.core.records import ApiCall
from flb_pipeline.store import Store
from flb_pipeline.store.api_calls import append_api_calls
from flb_pipeline.store.ledger import append_closed_trades
from flb_pipeline_tests.conftest import QUIET, definitions_for

TRADES = 100_000
CALLS = 1_000_000
DAY = "2026-03-02"
OPEN = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)  # 00:30 New York
PATHS = [
    "/markets",
    "/series",
    "/portfolio/orders",
    "/portfolio/fills",
    "/markets/{ticker}/orderbook",
]


def trades(rng: random.Random) -> list[ClosedTrade]:
    rows = []
    for n in range(TRADES):
        cents = rng.randint(85, 97)
        contracts = rng.randint(1, 300)
        cost = Decimal(cents * contracts) / 100
        fees = (Decimal(7) * contracts * cents * (100 - cents) / 1_000_000).quantize(
            Decimal("0.01")
        )
        won = rng.random() < cents / 100 + 0.01
        gross = Decimal(contracts) - cost if won else -cost
        opened = OPEN + timedelta(seconds=n * 0.8)
        rows.append(
            ClosedTrade(
                f"t{n}",
                f"o{n}",
                f"KX-{n % 900}",
                rng.choice(["weather", "financials"]),
                f"g{n % 40}",
                "yes",
                Decimal(cents) / 100,
                Decimal(cents) / 100,
                contracts,
                cost,
                fees,
                0.0,
                "win" if won else "loss",
                gross,
                gross - fees,
                opened,
                opened + timedelta(minutes=20),
                1200.0,
                "m",
                "s",
                cents / 100 + 0.02,
                "settlement",
            )
        )
    return rows


def calls(rng: random.Random) -> list[ApiCall]:
    return [
        ApiCall(
            OPEN + timedelta(seconds=n * 0.08),
            "GET",
            rng.choice(PATHS),
            200 if rng.random() > 0.002 else 500,
            rng.expovariate(1 / 40),
            None if rng.random() > 0.002 else "server_error",
        )
        for n in range(CALLS)
    ]


def main() -> None:
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "flb.duckdb"
        started = time.perf_counter()
        with Store(db_path).connect() as con:
            append_closed_trades(con, trades(rng), "exchange")
            append_api_calls(con, calls(rng))
        loaded = time.perf_counter() - started
        print(f"loaded {TRADES:,} trades and {CALLS:,} api calls in {loaded:.1f}s")
        job = definitions_for("http://127.0.0.1:9/trade-api/v2", db_path).resolve_job_def(
            "daily_summary_job"
        )
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            assert job.execute_in_process(partition_key=DAY, run_config=QUIET).success
            timings.append(time.perf_counter() - started)
    print(f"daily_summary_job partition (s, JSON + report + 4 plots): {percentiles(timings)}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
