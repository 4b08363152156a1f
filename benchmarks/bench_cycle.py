"""One trading cycle, 5,000 markets scanned -> orders acknowledged, in-process.

    .venv/bin/python -m benchmarks.bench_cycle [markets, default 5000]

The simulator runs in its own process (manual clock, moved 60 s between cycles); the model's
gate is the demo's (edge shown, not proven), so the cycles exercise the whole order path. Reported:
the whole `trading_job` run (7 assets, 12 checks, Dagster's own bookkeeping included) and its
critical path, from the start of `market_snapshots` to the end of `order_submissions`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import peak_rss_mb, percentiles, simulator_process
from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.embedded import advance_simulator_clock
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import check_results, definitions_for, run_job

CYCLES = 20
SIM = ["--clock", "manual", "--flb-slope", "1.3", "--history-events", "1500"]


def critical_path_s(db_path: Path, scan_id: str) -> float | None:
    """Scan start to the last order's acknowledgement, from the cycle's own clock readings
    (one clock offset per run, so differences are wall-clock seconds)."""
    with Store(db_path).connect() as con:
        (seconds,) = con.execute(
            "SELECT epoch(max(o.updated_at) - any_value(s.started_at)) FROM orders o"
            " JOIN scans s USING (scan_id) WHERE scan_id = ?",
            [scan_id],
        ).fetchone()
    return seconds


def main() -> None:
    markets = sys.argv[1] if len(sys.argv) > 1 else "5000"
    with (
        simulator_process("--markets", markets, *SIM) as url,
        tempfile.TemporaryDirectory() as folder,
    ):
        db_path = Path(folder) / "flb.duckdb"
        defs = definitions_for(url, db_path)
        assert run_job(defs, "history_job").success
        edge_only = calibration_run_config(EDGE_ONLY_GATE)
        assert run_job(defs, "calibration_job", run_config=edge_only).success
        wall, critical, orders, scanned = [], [], [], []
        for _ in range(CYCLES):
            advance_simulator_clock(url, 60)
            started = time.perf_counter()
            result = run_job(defs, "trading_job")
            wall.append(time.perf_counter() - started)
            if not result.success:
                failed = [name for name, passed in check_results(result).items() if not passed]
                print(f"cycle blocked ({', '.join(failed) or 'a step failed'}); not timed")
                continue
            scan = materialization_metadata(result, "market_snapshots")
            scan_id = scan["scan_id"]
            scanned.append(scan["markets"])
            orders.append(materialization_metadata(result, "order_submissions")["orders_sent"])
            if orders[-1]:
                critical.append(critical_path_s(db_path, scan_id))
    print(f"trading_job wall (s):                    {percentiles(wall)}")
    print(f"snapshot start -> orders acknowledged (s): {percentiles(critical)}")
    print(f"orders per cycle: {orders}")
    print(f"markets scanned per cycle: {min(scanned)}-{max(scanned)}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
