"""The event backtester on 10M snapshot rows: replay throughput for one parameter set, beside a
per-row event loop over the same rows; then a 100-cell grid through `backtest_job` on the
multiprocess executor.

.venv/bin/python -m benchmarks.bench_backtest                 # everything (about 10 minutes)
.venv/bin/python -m benchmarks.bench_backtest --skip-grid     # throughput and reference only
.venv/bin/python -m benchmarks.bench_backtest --rows 1000000  # a smaller run

The history is the seeded world of the backtester's tests (`flb_pipeline_tests.core.
backtest_world`): one-hour markets quoted every minute, prices distorted by slope `--slope`
(1.3 by default: a world where the default thresholds trade, so the loop has work to do).
Throughput counts the quote rows of the replayed window over the time of the vectorised
screens plus the replay; the walk-forward model fits are timed apart (they are shared by every
cell of a fold). The reference is the same replay with nothing screened out beforehand, every
row going through the live decision path one cycle at a time, the way a bar-stepping engine
works; it runs on the first day of the window (its rate would not change with more days), and
both must send the same orders there.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np

from benchmarks.common import peak_rss_mb
from flb_pipeline.core.backtest import ReplaySettings, replay
from flb_pipeline.core.prescreen import Screenable, screenable
from flb_pipeline.core.replay_history import build_history
from flb_pipeline.core.replay_models import refit_times, walk_forward_models
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.defs.assets.model import reference_prior
from flb_pipeline_tests.core.backtest_world import (
    TEST_MODEL,
    ReplayWorld,
    series_infos,
    world_columns,
)

DAY = 86_400.0
MINUTES_PER_MARKET = 60
THRESHOLDS = StrategyThresholds()
SETTINGS = ReplaySettings(settlement_lag_s=600.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--slope", type=float, default=1.3)
    parser.add_argument("--grid-cells", type=int, default=100)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    world = ReplayWorld(
        slope=args.slope,
        days=args.days,
        markets_per_day=round(args.rows / args.days / MINUTES_PER_MARKET),
    )
    started = time.perf_counter()
    columns = world_columns(11, world)
    history = build_history(
        columns.markets, columns.quotes, columns.trades, columns.training, series_infos(),
        step_s=world.step_s,
    )  # fmt: skip
    _ = history.marks  # every market's recorded bids, built once for every replay of it
    built = time.perf_counter() - started
    print(f"history: {len(history.quotes):,} quote rows, {len(history.markets):,} markets,"
          f" {len(history.trades):,} prints, built in {built:.1f} s")  # fmt: skip
    throughput(history, world, args.days)
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")
    if not args.skip_grid:
        grid(columns, world, args.grid_cells)


def throughput(history, world: ReplayWorld, days: float) -> None:
    start = world.start_ts + 2 * DAY
    end = world.start_ts + days * DAY
    fitted = time.perf_counter()
    schedule = walk_forward_models(
        history.training, refit_times(start, end, 7 * DAY), TEST_MODEL, reference_prior(),
        SETTINGS.settlement_lag_s,
    )  # fmt: skip
    fitted = time.perf_counter() - fitted
    rows = int(np.sum((history.quotes.ts >= start) & (history.quotes.ts < end)))
    began = time.perf_counter()
    screen = screenable(history, schedule, start, end)
    screened = time.perf_counter() - began
    result = replay(history, schedule, screen, THRESHOLDS, SETTINGS, (start, end))
    elapsed = time.perf_counter() - began
    survivors = len(screen.survivors(THRESHOLDS))
    print(f"walk-forward models: {len(schedule.versions)} fitted in {fitted:.1f} s")
    print(f"replay of one parameter set: {rows:,} rows in {elapsed:.2f} s"
          f" (screens {screened:.2f} s) = {rows / elapsed:,.0f} rows/s;"
          f" {survivors:,} rows past the screens ({survivors / rows:.2%}), {result.cycles:,}"
          f" cycles, {len(result.orders):,} orders, {len(result.trades):,} trades")  # fmt: skip
    reference(history, schedule, screen, start, rows / elapsed)


def reference(history, schedule, screen, start: float, fast_rate: float) -> None:
    """Every row of the first day through the decision path, cycle by cycle."""
    window = (start, start + DAY)
    quotes = history.quotes
    rows = np.flatnonzero((quotes.ts >= window[0]) & (quotes.ts < window[1]))
    everything = Screenable(
        rows=rows,
        seconds_to_close=np.full(len(rows), THRESHOLDS.min_seconds_to_close),
        yes_ask=np.full(len(rows), 9_999, dtype=np.int16),
        no_ask=np.full(len(rows), 9_999, dtype=np.int16),
        yes_edge=np.full(len(rows), np.inf, dtype=np.float32),
        no_edge=np.full(len(rows), np.inf, dtype=np.float32),
    )
    began = time.perf_counter()
    slow = replay(history, schedule, everything, THRESHOLDS, SETTINGS, window)
    elapsed = time.perf_counter() - began
    fast = replay(history, schedule, screen, THRESHOLDS, SETTINGS, window)
    same = fast.orders == slow.orders
    rate = len(rows) / elapsed
    print(f"per-row event loop (reference): {len(rows):,} rows in {elapsed:.1f} s ="
          f" {rate:,.0f} rows/s; same orders as the vectorised replay: {same}"
          f" ({len(slow.orders)} orders); ratio {fast_rate / rate:,.0f}x")  # fmt: skip
    bar_by_bar(history, schedule, rows[:2_000], fast_rate)


def bar_by_bar(history, schedule, rows: np.ndarray, fast_rate: float) -> None:
    """A bar-stepping engine asks the model about one row at a time: that call alone bounds
    its rate, whatever else it does per bar."""
    quotes, markets = history.quotes, history.markets
    model = schedule.versions[-1].model
    began = time.perf_counter()
    for row in rows.tolist():
        market = int(quotes.market[row])
        mid = (int(quotes.yes_bid[row]) + int(quotes.yes_ask[row])) / 20_000
        model.assess(np.array([mid]), [markets.family[market]],
                     np.array([markets.close_ts[market] - quotes.ts[row]]))  # fmt: skip
    rate = len(rows) / (time.perf_counter() - began)
    print(
        f"one model call per row (bar by bar, nothing else): {rate:,.0f} rows/s;"
        f" ratio {fast_rate / rate:,.0f}x"
    )


def grid(columns, world: ReplayWorld, cells: int) -> None:
    """`backtest_job` on the multiprocess executor over the same history in a store."""
    from benchmarks.backtest_store import write_store

    root = Path(tempfile.mkdtemp(prefix="flb-bench-backtest-"))
    try:
        db = root / "flb.duckdb"
        write_store(db, columns, world)
        config = grid_config(world, cells)
        os.environ["FLB_DB_PATH"] = str(db)
        os.environ["FLB_EXCHANGE"] = "demo"  # the clock is the system's: no exchange needed
        began = time.perf_counter()
        (root / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
            result = dg.execute_job(
                dg.reconstructable(benchmark_job), instance,
                run_config={"ops": {"threshold_backtest": {"ops": {
                    "export_backtest_history": {"config": config}}}}},
            )  # fmt: skip
        elapsed = time.perf_counter() - began
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{cells}-cell grid, {config['folds']} folds, backtest_job (multiprocess):"
              f" {'success' if result.success else 'FAILED'} in {elapsed:.1f} s;"
              f" peak RSS of a step process {children:,.0f} MB")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def grid_config(world: ReplayWorld, cells: int) -> dict:
    """About `cells` cells: 5 prices x 5 edges x 2 windows x 2 styles = 100."""
    from datetime import UTC, datetime

    first = datetime.fromtimestamp(world.start_ts + 2 * DAY, UTC).date()
    last = datetime.fromtimestamp(world.start_ts + world.days * DAY - 1, UTC).date()
    return {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "folds": 2,
        "refit_every_hours": 24.0 * 7,
        "min_favourite_prices": [0.75, 0.8, 0.85, 0.9, 0.95][: max(1, cells // 20)],
        "min_edges": [0.0, 0.005, 0.01, 0.02, 0.03],
        "kelly_fractions": [0.25],
        "windows_minutes": [[1.0, 30.0], [1.0, 60.0]],
        "order_styles": ["taker", "maker"],
        "settlement_lag_minutes": 10.0,
        "lookback_days": 30.0,
        "max_seconds": 3_600.0,
        "calibration": {
            "horizons_minutes": [5.0, 15.0, 30.0],
            "horizon_bucket_edges_hours": [1.0],
            "min_cell_points": 30,
            "min_cell_events": 20,
            "fdr": 1.0,
        },
    }


def benchmark_job() -> dg.JobDefinition:
    from flb_pipeline.definitions import build_definitions
    from flb_pipeline.settings import Settings

    settings = Settings.from_env()
    return build_definitions(settings).resolve_job_def("backtest_job")


if __name__ == "__main__":
    main()
