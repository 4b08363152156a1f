"""Store bulk append vs a raw DuckDB Arrow insert of the same frame, in the same run.

    .venv/bin/python -m benchmarks.bench_store

Three ways to land 100,000 snapshot rows in `market_snapshots`:
- raw: `INSERT INTO ... SELECT * FROM <arrow table>` of a prebuilt Arrow table;
- store frame: `store.bulk.append` of the same Arrow columns (what every store append does);
- store records: `append_market_snapshots` from `MarketQuote` records, i.e. including the
  record -> Arrow conversion the scan pays.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks.common import peak_rss_mb
from flb_pipeline.core.records import MarketQuote
from flb_pipeline.store import Store
from flb_pipeline.store.bulk import append
from flb_pipeline.store.snapshots import append_market_snapshots

ROWS = 100_000
REPEATS = 5
NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def quotes(n: int) -> list[MarketQuote]:
    return [
        MarketQuote(
            ticker=f"KXBENCH-{i:06d}", event_ticker=f"KXBENCH-{i // 6:05d}",
            series_ticker="KXBENCH", title="bench", category="Climate and Weather", status="active",
            yes_bid=Decimal(i % 90 + 5) / 100, yes_ask=Decimal(i % 90 + 7) / 100,
            no_bid=Decimal(93 - i % 90) / 100, no_ask=Decimal(95 - i % 90) / 100,
            last_price=Decimal(i % 90 + 6) / 100, volume=i, open_interest=i // 2,
            open_time=NOW - timedelta(hours=1), close_time=NOW + timedelta(minutes=i % 60),
            quote_ts=NOW,
        )
        for i in range(n)
    ]  # fmt: skip


def best_rate(action, reset) -> float:  # type: ignore[no-untyped-def]
    """Rows per second of the fastest of REPEATS runs (each into an emptied table)."""
    best = float("inf")
    for _ in range(REPEATS):
        reset()
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return ROWS / best


def main() -> None:
    records = quotes(ROWS)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "b.duckdb").connect() as con:
        append_market_snapshots(con, "scan-0", records, NOW)
        frame = con.sql("SELECT * FROM market_snapshots").to_arrow_table()
        con.register("bench_frame", frame)
        columns = {name: frame.column(name) for name in frame.column_names}

        def reset() -> None:
            con.execute("DELETE FROM market_snapshots")

        def raw() -> None:
            con.execute("INSERT INTO market_snapshots SELECT * FROM bench_frame")

        raw_rate = best_rate(raw, reset)
        frame_rate = best_rate(lambda: append(con, "market_snapshots", columns), reset)
        record_rate = best_rate(lambda: append_market_snapshots(con, "scan-1", records, NOW), reset)
    print(f"raw DuckDB Arrow insert:               {raw_rate:>10,.0f} rows/s")
    for label, rate in [
        ("store.bulk.append, same frame:", frame_rate),
        ("append_market_snapshots from records:", record_rate),
    ]:
        print(f"{label:<38} {rate:>10,.0f} rows/s  {rate / raw_rate:.2f}x raw")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
