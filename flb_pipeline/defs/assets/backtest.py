"""threshold_backtest: the walk-forward threshold search as a graph of Dagster steps.

`export_backtest_history` copies the range's history from the store into Parquet, refuses a
search over budget, and fans out one `replay_backtest_fold` step per walk-forward fold
(dynamic outputs). Each fold step runs in its own process under `backtest_job`'s executor,
reads only the Parquet export and writes per-cell result files. `merge_backtest` reads them
all, decides, writes the report and is the only step that writes to the store.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from flb_pipeline.core.backtest import ReplaySettings
from flb_pipeline.core.execution import TAKER
from flb_pipeline.core.search_verdict import SearchVerdict
from flb_pipeline.core.threshold_search import GridCell, GridTooLarge, SearchSettings
from flb_pipeline.defs.assets.model import CalibrationConfig, reference_prior
from flb_pipeline.defs.backtest_plan import (
    BacktestPlan,
    Budget,
    FoldOutcome,
    FoldTask,
    export,
    fold_tasks,
    load_history,
    make_plan,
    merge,
    replay_fold,
    skipped_in,
)
from flb_pipeline.defs.resources import ClockResource, ReportsResource, RiskResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.reports.backtest import (
    SCORE_HEADER,
    BacktestReport,
    write_backtest_report,
)
from flb_pipeline.reports.tables import markdown_rows
from flb_pipeline.store.backtests import save_search
from flb_pipeline.store.history_export import CANDLES, market_directory, open_export

HOUR = 3_600.0


class BacktestConfig(dg.Config):
    """The range (UTC days, both included), the grid, the walk-forward folds, the model refit
    cadence and P&L period, how orders meet the recorded market, and the budget a search must
    fit in before it starts. The model is fitted with the calibration job's settings.

    `grid` names a grid (small | full); any of the axis lists given replaces that axis."""

    first_day: str = Field(description="YYYY-MM-DD, UTC")
    last_day: str = Field(description="YYYY-MM-DD, UTC, included")
    grid: str = "small"
    min_favourite_prices: list[float] | None = None
    min_edges: list[float] | None = None
    kelly_fractions: list[float] | None = None
    windows_minutes: list[list[float]] | None = Field(
        default=None, description="[[min, max] minutes to close], one pair per window"
    )
    order_styles: list[str] | None = None
    folds: int = Field(default=4, ge=2)
    refit_every_hours: float = Field(default=24.0, gt=0)
    pnl_period_hours: float = Field(default=24.0, gt=0)
    quote_source: str = CANDLES
    decision_step_seconds: float = Field(default=60.0, gt=0)
    lookback_days: float = Field(default=30.0, ge=0)
    starting_capital: float = Field(default=10_000.0, gt=0)
    order_style: str = TAKER
    assumed_depth: int = Field(default=100, ge=0)
    slippage_ticks: int = Field(default=0, ge=0)
    settlement_lag_minutes: float = Field(default=60.0, ge=0)
    bootstrap_resamples: int = Field(default=2_000, ge=100)
    max_seconds: float = 3_600.0
    max_memory_mb: float = 8_000.0
    workers: int = Field(default=2, ge=1)
    cells_per_step: int = Field(
        default=25, ge=1, description="cells one step replays on its fold (a step per slice)"
    )
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)

    def plan(self, run_id: str, root: Path, risk: RiskResource) -> BacktestPlan:
        replay = ReplaySettings(
            starting_capital=Decimal(str(self.starting_capital)),
            order_style=self.order_style,
            assumed_depth=self.assumed_depth,
            slippage_ticks=self.slippage_ticks,
            settlement_lag_s=self.settlement_lag_minutes * 60,
            limits=risk.limits(),
        )
        settings = SearchSettings(
            folds=self.folds,
            refit_every_s=self.refit_every_hours * HOUR,
            pnl_period_s=self.pnl_period_hours * HOUR,
            replay=replay,
            model=self.calibration.settings(),
            bootstrap_resamples=self.bootstrap_resamples,
        )
        return make_plan(
            run_id=run_id,
            first_day=date.fromisoformat(self.first_day),
            last_day=date.fromisoformat(self.last_day),
            grid=self.grid,
            settings=settings,
            source=self.quote_source,
            step_s=self.decision_step_seconds,
            lookback=timedelta(days=self.lookback_days),
            root=root,
            budget=Budget(self.max_seconds, self.max_memory_mb, self.workers),
            axes=self.axes(),
            cells_per_step=self.cells_per_step,
        )

    def axes(self) -> dict[str, tuple[Any, ...]]:
        given = {
            "min_favourite_price": self.min_favourite_prices and tuple(
                Decimal(str(price)) for price in self.min_favourite_prices
            ),
            "min_edge": self.min_edges and tuple(self.min_edges),
            "kelly_fraction": self.kelly_fractions and tuple(self.kelly_fractions),
            "windows_s": self.windows_minutes and tuple(
                (low * 60, high * 60) for low, high in self.windows_minutes
            ),
            "order_styles": self.order_styles and tuple(self.order_styles),
        }  # fmt: skip
        return {axis: values for axis, values in given.items() if values}


@dg.op(
    pool=DUCKDB_POOL,
    out=dg.DynamicOut(tuple),
    description="History to date-partitioned Parquet; the budget check; one output per fold.",
)
def export_backtest_history(
    context: dg.OpExecutionContext,
    config: BacktestConfig,
    store: StoreResource,
    risk: RiskResource,
) -> Iterator[dg.DynamicOutput[tuple[BacktestPlan, FoldTask]]]:
    run_id = f"bt-{context.run.run_id[:8]}"
    plan = config.plan(run_id, store.store().backtest_dir, risk)
    try:
        exported, estimate = export(plan, store.store())
    except GridTooLarge as refused:
        context.log.error(str(refused))
        raise dg.Failure(description=str(refused)) from refused
    context.log.info(f"exported {exported.rows} to {plan.export_dir}; {estimate.describe()}")
    for task in fold_tasks(plan):
        yield dg.DynamicOutput((plan, task), mapping_key=task.key)


@dg.op(description="A fold and a slice of the cells: models, screens, replays; a file per cell.")
def replay_backtest_fold(
    context: dg.OpExecutionContext, work: tuple[BacktestPlan, FoldTask]
) -> tuple[BacktestPlan, FoldOutcome]:
    plan, task = work
    fold, cells = task.fold, task.last_cell - task.first_cell
    history = load_history(plan)
    done = [0]

    def progress(cell: GridCell) -> None:
        done[0] += 1
        context.log.info(f"fold {fold}: cell {done[0]}/{cells} {cell.cell_id} done")

    outcome = replay_fold(plan, task, reference_prior(), history, progress)
    context.log.info(
        f"fold {fold}: {outcome.models.fitted} model(s) fitted, failed refits"
        f" {outcome.models.failed or 'none'}; skipped {outcome.skipped}"
    )
    return plan, outcome


@dg.op(pool=DUCKDB_POOL, description="Every cell's files into one verdict, its report, the store.")
def merge_backtest(
    context: dg.OpExecutionContext,
    folds: list[tuple[BacktestPlan, FoldOutcome]],
    store: StoreResource,
    clock: ClockResource,
    reports: ReportsResource,
) -> dg.Output[str]:
    plan: BacktestPlan = folds[0][0]
    con = open_export(plan.export_dir)
    markets = market_directory(con)
    con.close()
    merged = merge(plan, {ticker: event for ticker, (event, _) in markets.items()})
    skipped = skipped_in([outcome for _, outcome in folds])
    report = write_backtest_report(
        reports.reports() / "backtests" / plan.run_id, run_id=plan.run_id,
        window=(plan.start, plan.end), cells=plan.cells, verdict=merged.verdict,
        results=merged.results, markets=markets, skipped=skipped,
        starting_capital=float(plan.settings.replay.starting_capital),
    )  # fmt: skip
    verdict = merged.verdict
    shown = {verdict.chosen_cell, verdict.defaults_cell}
    trades = {
        cell: [(r.fold, t) for r in merged.results if r.cell_id == cell for t in r.trades]
        for cell in shown
    }
    with store.store().connect() as con:
        save_search(
            con, run_id=plan.run_id, created_at=clock.now(), window=(plan.start, plan.end),
            grid=plan.grid, cells=plan.cells, folds=plan.settings.folds, verdict=verdict,
            skipped=skipped, report_path=str(report.markdown_path), trades=trades,
        )  # fmt: skip
    level = context.log.info if verdict.adopted else context.log.warning
    level(f"threshold search {plan.run_id}: {verdict.reason}")
    return dg.Output(plan.run_id, metadata=_metadata(plan, verdict, report, skipped))


def _metadata(
    plan: BacktestPlan, verdict: SearchVerdict, report: BacktestReport, skipped: dict[str, int]
) -> dict[str, dg.MetadataValue]:
    return {
        "run_id": dg.MetadataValue.text(plan.run_id),
        "adopted": dg.MetadataValue.bool(verdict.adopted),
        "chosen_cell": dg.MetadataValue.text(verdict.chosen_cell),
        "verdict": dg.MetadataValue.text(verdict.reason),
        "failed_tests": dg.MetadataValue.json([t.name for t in verdict.failed_tests]),
        "pbo": dg.MetadataValue.float(round(verdict.pbo, 4)) if verdict.pbo is not None
        else dg.MetadataValue.text("not computable"),
        "deflated_sharpe": dg.MetadataValue.float(round(verdict.deflated_sharpe, 4))
        if verdict.deflated_sharpe is not None else dg.MetadataValue.text("not computable"),
        "summary": dg.MetadataValue.md(markdown_rows(["figure", "value"], report.summary)),
        "cells": dg.MetadataValue.md(
            markdown_rows(SCORE_HEADER, report.score_rows)
        ),
        "skipped": dg.MetadataValue.json(skipped),
        "report": dg.MetadataValue.path(str(report.markdown_path.resolve())),
        **{f"plot_{name}": dg.MetadataValue.path(str(path.resolve()))
           for name, path in report.plots.items()},
    }  # fmt: skip


@dg.graph_asset(
    group_name="backtest",
    kinds={"duckdb", "parquet"},
    description=(
        "Walk-forward, fee-exact threshold search over recorded history; adopts new thresholds"
        " only when they beat the defaults out of sample, CI above zero, PBO < 0.5."
    ),
)
def threshold_backtest() -> str:
    folds = export_backtest_history().map(replay_backtest_fold)
    return merge_backtest(folds.collect())
