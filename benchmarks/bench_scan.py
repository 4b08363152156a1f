"""Full scan of 5,000 open markets from the simulator into DuckDB, through `snapshot_job`.

.venv/bin/python -m benchmarks.bench_scan
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import peak_rss_mb, percentiles, simulator_process
from flb_pipeline.demo import materialization_metadata
from flb_pipeline_tests.conftest import definitions_for, run_job

MARKETS = 5000
RUNS = 5


def main() -> None:
    with simulator_process("--markets", str(MARKETS), "--clock", "manual") as url, \
            tempfile.TemporaryDirectory() as folder:  # fmt: skip
        defs = definitions_for(url, Path(folder) / "flb.duckdb", exchange={"reads_per_s": 20})
        wall, scan, markets = [], [], 0
        for _ in range(RUNS):
            started = time.perf_counter()
            result = run_job(defs, "snapshot_job")
            wall.append(time.perf_counter() - started)
            metadata = materialization_metadata(result, "market_snapshots")
            scan.append(metadata["scan_latency_ms"] / 1000)
            markets = metadata["markets"]
    print(f"markets per scan: {markets}")
    print(f"snapshot_job wall (s, incl. 4 quality checks): {percentiles(wall)}")
    print(f"scan inside the asset (s):                     {percentiles(scan)}")
    print(f"markets/s (asset scan p50): {markets / sorted(scan)[len(scan) // 2]:.0f}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
