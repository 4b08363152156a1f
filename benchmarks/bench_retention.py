"""The store after a simulated week of scans, with and without retention.

    .venv/bin/python -m benchmarks.bench_retention [markets] [days] [retention_days]

Two stores receive the same scans: one every 30 simulated seconds (the trading sensor's
cadence) of `markets` open markets (default 500), each a `market_snapshots` row and a
`correlation_groups` row, written through the store's own functions for `days` simulated
days (default 7). Quotes walk a cent at a time and markets close and are replaced, so the
columns compress as a live scan's do. After each simulated day the second store runs
`retention_job` through Dagster with a window of `retention_days` (default 2, so a week
reaches the steady state; the deployment's default is 14 days), its clock the simulator's.
Printed per day: each store's DuckDB file and the archive's Parquet, in MB. These two
tables are what grows with the universe; the other tables' growth per cycle is in the soak's
figures.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np

from flb_pipeline.core.records import MarketQuote
from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline.store.bulk import transaction
from flb_pipeline.store.decisions import save_groups
from flb_pipeline.store.integrity import checkpoint
from flb_pipeline.store.snapshots import append_market_snapshots, begin_scan, finish_scan
from flb_pipeline_tests.conftest import SimControl, definitions_for, run_job

START = datetime(2026, 3, 2, tzinfo=UTC)
SCAN_EVERY = timedelta(seconds=30)
SCANS_PER_HOUR = int(timedelta(hours=1) / SCAN_EVERY)
CENT = Decimal("0.01")


class Universe:
    """`size` open markets whose quotes walk a cent at a time; a market that closes is
    replaced by a new one (new ticker), as a live universe rolls over."""

    def __init__(self, size: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.serial = 0
        self.quotes = [self._new(START) for _ in range(size)]

    def _new(self, now: datetime) -> MarketQuote:
        self.serial += 1
        event = f"KXSOAK-{self.serial // 6:07d}"
        bid = int(self.rng.integers(2, 97))
        lifetime = timedelta(minutes=float(self.rng.uniform(20, 3 * 24 * 60)))
        return MarketQuote(
            ticker=f"{event}-B{self.serial % 6}", event_ticker=event, series_ticker="KXSOAK",
            title=f"Soak market {self.serial}", category="Economics", status="active",
            yes_bid=bid * CENT, yes_ask=(bid + 2) * CENT, no_bid=(98 - bid) * CENT,
            no_ask=(100 - bid) * CENT, last_price=(bid + 1) * CENT, volume=0, open_interest=0,
            open_time=now, close_time=now + lifetime, quote_ts=now,
        )  # fmt: skip

    def scan(self, now: datetime) -> list[MarketQuote]:
        moves = self.rng.choice([-1, 0, 0, 0, 0, 0, 0, 0, 1], size=len(self.quotes))
        trades = self.rng.poisson(0.3, size=len(self.quotes))
        fresh = []
        for quote, move, traded in zip(self.quotes, moves, trades, strict=True):
            if quote.close_time <= now:
                fresh.append(self._new(now))
                continue
            bid = min(max(quote.yes_bid + int(move) * CENT, CENT), 97 * CENT)
            fresh.append(
                replace(
                    quote,
                    yes_bid=bid,
                    yes_ask=bid + 2 * CENT,
                    no_bid=98 * CENT - bid,
                    no_ask=1 - bid,
                    volume=quote.volume + int(traded),
                    open_interest=quote.open_interest + int(traded),
                    quote_ts=now,
                )
            )
        self.quotes = fresh
        return fresh


def write_day(stores: list[Store], universe: Universe, day: int) -> None:
    """A day of scans, an hour per connection and transaction: each hour ends with the file
    closed and checkpointed, as a deployment's runs close it (a run holds it for one cycle)."""
    for hour in range(24):
        start = START + timedelta(days=day, hours=hour)
        scans = [universe.scan(start + n * SCAN_EVERY) for n in range(SCANS_PER_HOUR)]
        for store in stores:
            with store.connect() as con, transaction(con):
                for quotes in scans:
                    write_scan(con, quotes)


def write_scan(con: duckdb.DuckDBPyConnection, quotes: list[MarketQuote]) -> None:
    """One scan as `market_snapshots` and `correlation_groups` record it."""
    now = quotes[0].quote_ts or START
    scan_id = f"scan-{now:%Y%m%dT%H%M%S}"
    begin_scan(con, scan_id, now, "all")
    append_market_snapshots(con, scan_id, quotes, now)
    finish_scan(con, scan_id, status="complete", finished_at=now, pages=1,
                invalid_records=0, latency_ms=200.0)  # fmt: skip
    save_groups(con, scan_id, {q.ticker: q.event_ticker for q in quotes}, "event")


def sizes(store: Store) -> tuple[float, float]:
    """(DuckDB file incl. WAL after a checkpoint, archive Parquet) in MB."""
    with store.connect() as con:
        checkpoint(con)
    wal = store.path.with_name(store.path.name + ".wal")
    files = [store.path, wal]
    db = sum(path.stat().st_size for path in files if path.exists())
    archive = sum(p.stat().st_size for p in store.archive_dir.rglob("*.parquet"))
    return db / 1e6, archive / 1e6


def main(markets: int = 500, days: int = 7, retention_days: float = 2.0) -> None:
    universe = Universe(markets)
    world = SimConfig(
        seed=1, markets_target=5, history_events=0, history_days=1.0, clock_mode="manual",
        start_time=START,
    )  # fmt: skip
    retain = {"ops": {"archive_old_scans": {"config": {"retention_days": retention_days}}}}
    with tempfile.TemporaryDirectory() as folder, SimulatorServer(world) as simulator:
        clock = SimControl(simulator.root_url)
        root = Path(folder)
        (root / "kept").mkdir()
        (root / "retained").mkdir()
        kept, retained = (
            Store(root / "kept" / "flb.duckdb"),
            Store(root / "retained" / "flb.duckdb"),
        )
        defs = definitions_for(simulator.url, retained.path)
        print(f"{markets} markets, a scan every {SCAN_EVERY.seconds} s,"
              f" retention window {retention_days:g} days")  # fmt: skip
        print("day  rows/table  no retention MB  retention: DuckDB MB  archive MB  write s")
        for day in range(days):
            started = time.perf_counter()
            write_day([kept, retained], universe, day)
            written = time.perf_counter() - started
            clock.advance(START.timestamp() + (day + 1) * 86400 - clock.now())
            assert run_job(defs, "retention_job", run_config=retain).success
            rows = (day + 1) * markets * 24 * SCANS_PER_HOUR
            kept_mb, _ = sizes(kept)
            retained_mb, archive_mb = sizes(retained)
            print(f"{day + 1:>3}  {rows:>10,}  {kept_mb:>15.1f}  {retained_mb:>20.1f}"
                  f"  {archive_mb:>10.1f}  {written:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) if i < 2 else float(a) for i, a in enumerate(sys.argv[1:])))
