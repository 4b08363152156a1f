"""Reconciliation's ledger work against a long history: does a cycle's cost follow the open
book or the whole history?

    .venv/bin/python -m benchmarks.bench_ledger [settled markets, default 20000]

A store holding N settled markets (one buy fill and one settlement each, paper execution: the
exchange is never asked, so no simulator is needed) is reconciled repeatedly. The first call
replays every market, as every call did before closed-out markets were remembered; the later
calls replay only markets whose records changed (none here).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks.common import peak_rss_mb, percentiles
from flb_pipeline.core.records import Fill, Settlement
from flb_pipeline.defs.reconcile import PAPER, reconcile
from flb_pipeline.exchange.client import ClientSettings, KalshiClient
from flb_pipeline.store import Store
from flb_pipeline.store.ledger import append_fills, append_settlements

REPEATS = 5
START = datetime(2026, 1, 5, 15, tzinfo=UTC)
UNREACHABLE = "http://127.0.0.1:9/trade-api/v2"  # paper reconciliation of a flat book sends nothing


def settled_history(markets: int) -> tuple[list[Fill], list[Settlement]]:
    fills, settlements = [], []
    for i in range(markets):
        ticker, bought = f"KXBENCH-{i:06d}", START + timedelta(minutes=i)
        fills.append(
            Fill(
                f"fill-{i}",
                f"order-{i}",
                f"cid-{i}",
                ticker,
                "yes",
                "buy",
                10,
                Decimal("0.90"),
                Decimal("0.07"),
                True,
                bought,
            )
        )
        settlements.append(
            Settlement(
                ticker,
                f"KXBENCH-E{i}",
                "yes" if i % 10 else "no",
                10,
                0,
                Decimal("9.00"),
                Decimal(0),
                Decimal(10) if i % 10 else Decimal(0),
                bought + timedelta(minutes=30),
            )
        )
    return fills, settlements


def main() -> None:
    markets = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    fills, settlements = settled_history(markets)
    client = KalshiClient(ClientSettings(UNREACHABLE))
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(Path(folder) / "flb.duckdb").connect() as con,
    ):
        append_fills(con, fills, PAPER)
        append_settlements(con, settlements, PAPER)
        timings, trades = [], []
        for repeat in range(REPEATS + 1):
            now = START + timedelta(days=200, minutes=repeat)
            started = time.perf_counter()
            summary = reconcile(
                client, con, execution=PAPER, now=now, paper_capital=Decimal(10_000)
            )
            timings.append(time.perf_counter() - started)
            trades.append(len(summary.new_closed_trades))
    print(f"settled markets in the store: {markets:,}")
    print(f"first reconcile (replays all, as before): {timings[0]:.3f} s, {trades[0]:,} trades")
    print(f"later reconciles (closed-out skipped):    {percentiles(timings[1:])}")
    print(f"new trades per later call: {trades[1:]}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
