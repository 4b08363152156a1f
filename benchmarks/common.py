"""Shared pieces: a simulator in its own process, timing summaries, peak memory.

Every benchmark's simulator starts its clock at the same moment (`START`), so a seed gives the
same world on every run and every day. `FLB_BENCH_SIM` adds simulator options, e.g.
`FLB_BENCH_SIM="--rate-tier prime"` to measure the code rather than the API tier's pacing.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from flb_pipeline_tests.e2e.harness import free_port

BIN = Path(sys.executable).parent
START = "2026-11-29T12:00:00Z"


@contextlib.contextmanager
def simulator_process(*args: str) -> Iterator[str]:
    """`flb sim` in a separate process (its own core), yielding its base URL."""
    port = free_port()
    extra = os.environ.get("FLB_BENCH_SIM", "").split()
    process = subprocess.Popen(
        [str(BIN / "flb"), "sim", "--port", str(port), "--start", START, *args, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{root}/_sim/clock", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield f"{root}/trade-api/v2"
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"p50 {median:.3f}  p95 {p95:.3f}  min {ordered[0]:.3f}  n {len(ordered)}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
