"""A threshold search from start to finish, without Dagster: shared by `backtest_job`'s steps
and `flb backtest`.

1. `export`: the range's history out of the store into Parquet (the only read of the DuckDB
   file before the merge), and the budget check on what was exported;
2. `replay_fold`: one fold's models, screens and every cell, each cell's result to files;
3. `merge`: every cell's files into one verdict and its report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flb_pipeline.core.calibration import CalibrationPrior
from flb_pipeline.core.replay_history import ReplayHistory
from flb_pipeline.core.search_verdict import SearchVerdict, decide
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.core.threshold_search import (
    GRIDS,
    CellResult,
    FoldModels,
    GridCell,
    SearchEstimate,
    SearchSettings,
    estimate_search,
    fold_windows,
    require_within_budget,
    run_fold,
    threshold_grid,
)
from flb_pipeline.store import Store
from flb_pipeline.store.backtests import read_cell_results, write_cell_result
from flb_pipeline.store.history_export import (
    ExportedHistory,
    export_history,
    open_export,
    replay_history,
)


@dataclass(frozen=True)
class Budget:
    max_seconds: float = 3_600.0
    max_memory_mb: float = 8_000.0
    workers: int = 2


@dataclass(frozen=True)
class BacktestPlan:
    """Everything a search needs to run anywhere: what to replay, how, and where its files
    go. Picklable, so each Dagster step (in its own process) receives it whole."""

    run_id: str
    start: datetime
    end: datetime
    lookback_start: datetime
    grid: str
    cells: list[GridCell]
    settings: SearchSettings
    source: str
    step_s: float
    run_dir: Path
    budget: Budget = field(default_factory=Budget)
    cells_per_step: int = 25

    @property
    def export_dir(self) -> Path:
        return self.run_dir / "history"

    @property
    def results_dir(self) -> Path:
        return self.run_dir / "cells"

    def windows(self) -> list[tuple[float, float]]:
        return fold_windows(self.start.timestamp(), self.end.timestamp(), self.settings.folds)

    def refits(self) -> int:
        span = self.end.timestamp() - self.start.timestamp()
        return self.settings.folds + int(span // self.settings.refit_every_s)


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC)."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    start = datetime.combine(first, time(), UTC)
    return start, datetime.combine(last + timedelta(days=1), time(), UTC)


def make_plan(
    *,
    run_id: str,
    first_day: date,
    last_day: date,
    grid: str,
    settings: SearchSettings,
    source: str,
    step_s: float,
    lookback: timedelta,
    root: Path,
    budget: Budget,
    axes: dict[str, tuple[Any, ...]] | None = None,
    cells_per_step: int = 25,
) -> BacktestPlan:
    """The plan of one search; `axes` replaces axes of the named grid (e.g. a narrower
    `min_edge`), so a search can be as small as the question asked of it."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {sorted(GRIDS)}, not {grid!r}")
    start, end = day_range(first_day, last_day)
    cells = threshold_grid(
        replace(GRIDS[grid], **(axes or {})), StrategyThresholds(), settings.replay.order_style
    )
    return BacktestPlan(
        run_id, start, end, start - lookback, grid, cells, settings, source, step_s,
        root / run_id, budget, cells_per_step,
    )  # fmt: skip


def export(plan: BacktestPlan, store: Store) -> tuple[ExportedHistory, SearchEstimate]:
    """The history to Parquet, then the estimate; a search over budget is refused here,
    before any replay (`GridTooLarge`)."""
    with store.connect() as con:
        exported = export_history(
            con, plan.export_dir, plan.start, plan.end, plan.lookback_start, store.archive_dir
        )
    rows = exported.rows["settled_prices" if plan.source == "candles" else "market_snapshots"]
    estimate = estimate_search(
        rows, len(plan.cells), plan.settings.folds, plan.refits(), plan.budget.workers,
        len(fold_tasks(plan)),
    )  # fmt: skip
    require_within_budget(estimate, plan.budget.max_seconds, plan.budget.max_memory_mb)
    return exported, estimate


def load_history(plan: BacktestPlan) -> ReplayHistory:
    con = open_export(plan.export_dir)
    try:
        return replay_history(
            con, source=plan.source, step_s=plan.step_s,
            training_horizons_s=plan.settings.model.horizons_s,
        )  # fmt: skip
    finally:
        con.close()


@dataclass(frozen=True)
class FoldTask:
    """One unit of work: a fold and a slice of the grid's cells (`cells_per_step` of them),
    so the steps of a fold that trades a lot do not keep the other workers waiting."""

    fold: int
    first_cell: int
    last_cell: int

    @property
    def key(self) -> str:
        return f"fold_{self.fold}_cells_{self.first_cell}_{self.last_cell}"


def fold_tasks(plan: BacktestPlan) -> list[FoldTask]:
    step = max(1, plan.cells_per_step)
    return [
        FoldTask(fold, first, min(first + step, len(plan.cells)))
        for fold in range(plan.settings.folds)
        for first in range(0, len(plan.cells), step)
    ]


@dataclass(frozen=True)
class FoldOutcome:
    """A replayed task: its fold's models, what its replays skipped (the same for every
    cell: the screens and model do not depend on thresholds), and what the history itself
    dropped."""

    task: FoldTask
    window: tuple[float, float]
    cells: int
    models: FoldModels
    skipped: dict[str, int]
    history_skipped: dict[str, int]


def replay_fold(
    plan: BacktestPlan,
    task: FoldTask,
    prior: CalibrationPrior,
    history: ReplayHistory | None = None,
    progress: Callable[[GridCell], None] | None = None,
) -> FoldOutcome:
    """The task's cells on its fold, each written to its own files."""
    history = history or load_history(plan)
    window = plan.windows()[task.fold]
    cells = plan.cells[task.first_cell : task.last_cell]
    results, models = run_fold(history, task.fold, window, cells, plan.settings, prior, progress)
    for result in results:
        write_cell_result(plan.results_dir, result)
    skipped = results[0].skipped if results else {}
    return FoldOutcome(task, window, len(results), models, skipped, dict(history.skipped))


def skipped_in(outcomes: Sequence[FoldOutcome]) -> dict[str, int]:
    """What the search skipped: the history's drops once, the replays' once per fold."""
    total: Counter[str] = Counter(outcomes[0].history_skipped if outcomes else {})
    for outcome in outcomes:
        if outcome.task.first_cell == 0:
            total.update(outcome.skipped)
    return dict(sorted(total.items()))


@dataclass(frozen=True)
class MergedSearch:
    verdict: SearchVerdict
    results: list[CellResult]


def merge(plan: BacktestPlan, events_of: dict[str, str]) -> MergedSearch:
    results = read_cell_results(plan.results_dir)
    missing = {(c.cell_id, f) for c in plan.cells for f in range(plan.settings.folds)} - {
        (r.cell_id, r.fold) for r in results
    }
    if missing:
        raise FileNotFoundError(f"{len(missing)} cell results missing, e.g. {sorted(missing)[0]}")
    verdict = decide(
        results, plan.cells, events_of, plan.settings.pnl_period_s,
        resamples=plan.settings.bootstrap_resamples, seed=plan.settings.seed,
    )  # fmt: skip
    return MergedSearch(verdict, results)


def events_of(history: ReplayHistory) -> dict[str, str]:
    markets = history.markets
    return dict(zip(markets.ticker.tolist(), markets.event_ticker.tolist(), strict=True))
