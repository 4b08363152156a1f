"""The threshold grid and its walk-forward folds: every cell replayed on every fold.

A fold is a time window; its models are refitted on the markets settled before each refit
(so a fold never sees its own outcomes), and every cell replays the fold from the same
starting capital. The models and the vectorised screens do not depend on the thresholds, so
a fold fits and screens once and replays all its cells on them: one fold is one unit of work
(one Dagster step), however many cells there are.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from flb_pipeline.core.backtest import ReplayResult, ReplaySettings, replay
from flb_pipeline.core.calibration import CalibrationPrior
from flb_pipeline.core.execution import MAKER, TAKER
from flb_pipeline.core.ledger import ClosedTrade
from flb_pipeline.core.model_fit import ModelSettings
from flb_pipeline.core.prescreen import screenable
from flb_pipeline.core.replay_history import ReplayHistory
from flb_pipeline.core.replay_models import ModelSchedule, refit_times, walk_forward_models
from flb_pipeline.core.strategy import StrategyThresholds, thresholds_id_of

DAY_S = 86_400.0
DEFAULT_CELL = "c000"


@dataclass(frozen=True)
class GridCell:
    """One combination of thresholds and order style; `cell_id` is its place in the grid."""

    cell_id: str
    thresholds: StrategyThresholds
    order_style: str

    @property
    def thresholds_id(self) -> str:
        return thresholds_id_of(self.thresholds)

    def label(self) -> str:
        t = self.thresholds
        return (
            f"fav>={t.min_favourite_price} edge>={t.min_edge:g} kelly={t.kelly_fraction:g}"
            f" ttc={t.min_seconds_to_close:g}-{t.max_seconds_to_close:g}s {self.order_style}"
        )


@dataclass(frozen=True)
class GridAxes:
    """The values each threshold takes; windows are (min, max) seconds to close."""

    min_favourite_price: tuple[Decimal, ...]
    min_edge: tuple[float, ...]
    kelly_fraction: tuple[float, ...]
    windows_s: tuple[tuple[float, float], ...]
    order_styles: tuple[str, ...] = (TAKER, MAKER)

    @property
    def size(self) -> int:
        return (
            len(self.min_favourite_price) * len(self.min_edge) * len(self.kelly_fraction)
            * len(self.windows_s) * len(self.order_styles)
        )  # fmt: skip


GRIDS = {
    "small": GridAxes(
        min_favourite_price=(Decimal("0.80"), Decimal("0.85"), Decimal("0.90")),
        min_edge=(0.005, 0.01, 0.02),
        kelly_fraction=(0.25,),
        windows_s=((60.0, 1_800.0), (60.0, 21_600.0)),
    ),
    "full": GridAxes(
        min_favourite_price=tuple(Decimal(v) for v in ("0.75", "0.80", "0.85", "0.90", "0.95")),
        min_edge=(0.0, 0.005, 0.01, 0.02, 0.03),
        kelly_fraction=(0.1, 0.25, 0.5),
        windows_s=((60.0, 1_800.0), (60.0, 21_600.0), (3_600.0, 604_800.0)),
    ),
}


def threshold_grid(
    axes: GridAxes, defaults: StrategyThresholds, default_style: str
) -> list[GridCell]:
    """The defaults first (`c000`), then every other combination in a fixed order."""
    cells = [GridCell(DEFAULT_CELL, defaults, default_style)]
    for price, edge, kelly, (low, high), style in itertools.product(
        axes.min_favourite_price, axes.min_edge, axes.kelly_fraction, axes.windows_s,
        axes.order_styles,
    ):  # fmt: skip
        thresholds = StrategyThresholds(price, edge, kelly, low, high)
        if (thresholds, style) != (defaults, default_style):
            cells.append(GridCell(f"c{len(cells):03d}", thresholds, style))
    return cells


@dataclass(frozen=True)
class SearchSettings:
    """Walk-forward folds over the range, the model refit cadence, the P&L period the Sharpe
    ratios and PBO are computed on (a day; shorter for a short simulated history), and the
    replay settings every cell shares (its order style aside)."""

    folds: int = 4
    refit_every_s: float = DAY_S
    pnl_period_s: float = DAY_S
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    bootstrap_resamples: int = 2_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(
                "walk-forward needs at least 2 folds: choose on one, score on the next"
            )
        if self.pnl_period_s <= 0 or self.refit_every_s <= 0:
            raise ValueError(f"periods must be positive: {self}")


def fold_windows(start: float, end: float, folds: int) -> list[tuple[float, float]]:
    """`folds` consecutive windows of equal length covering [start, end)."""
    edges = np.linspace(start, end, folds + 1)
    return [(float(a), float(b)) for a, b in itertools.pairwise(edges)]


@dataclass(frozen=True)
class CellResult:
    """One cell replayed on one fold: its trades, P&L per period, and the figures the
    search compares cells by."""

    cell_id: str
    fold: int
    trades: list[ClosedTrade]
    period_pnl: list[float]
    orders: int
    cycles: int
    blocked_cycles: dict[str, int]
    exposure_share: float
    traded_cost: Decimal
    starting_capital: Decimal
    final_capital: Decimal
    equity: list[tuple[float, float]]
    kill_switch_trips: int
    pauses: list[tuple[str, str, str]]
    """(check, from, until) of every trip that paused entries, ISO times."""
    skipped: dict[str, int]


@dataclass(frozen=True)
class FoldModels:
    """What a fold's walk-forward refits produced: how many served decisions and why the
    others could not be fitted."""

    fitted: int
    failed: dict[str, str]
    model_ids: list[str]


Progress = Callable[[GridCell], None]


def run_fold(
    history: ReplayHistory,
    fold: int,
    window: tuple[float, float],
    cells: Sequence[GridCell],
    settings: SearchSettings,
    prior: CalibrationPrior,
    progress: Progress | None = None,
) -> tuple[list[CellResult], FoldModels]:
    """Fit the fold's models and screen its quotes once, then replay every cell."""
    schedule = walk_forward_models(
        history.training,
        refit_times(window[0], window[1], settings.refit_every_s),
        settings.model,
        prior,
        settings.replay.settlement_lag_s,
    )
    screen = screenable(history, schedule, *window)
    results = []
    for cell in cells:
        replay_settings = replace(settings.replay, order_style=cell.order_style)
        outcome = replay(
            history, schedule, screen, cell.thresholds, replay_settings, window,
            cell.thresholds_id,
        )  # fmt: skip
        results.append(cell_result(cell.cell_id, fold, outcome, window, settings.pnl_period_s))
        if progress is not None:
            progress(cell)
    return results, _fold_models(schedule)


def _fold_models(schedule: ModelSchedule) -> FoldModels:
    fitted = [v for v in schedule.versions if v.model is not None]
    failed = {
        f"{v.valid_from:.0f}": v.reason for v in schedule.versions if v.model is None
    }  # fmt: skip
    return FoldModels(len(fitted), failed, [v.model.model_id for v in fitted if v.model])


def cell_result(
    cell_id: str, fold: int, outcome: ReplayResult, window: tuple[float, float], period_s: float
) -> CellResult:
    return CellResult(
        cell_id=cell_id,
        fold=fold,
        trades=outcome.trades,
        period_pnl=period_pnl(outcome, window, period_s),
        orders=len(outcome.orders),
        cycles=outcome.cycles,
        blocked_cycles=outcome.blocked_cycles,
        exposure_share=float(np.mean(outcome.exposure_share)) if outcome.exposure_share else 0.0,
        traded_cost=sum((t.cost + t.fees for t in outcome.trades), Decimal(0)),
        starting_capital=outcome.starting_capital,
        final_capital=outcome.final_capital,
        equity=[(ts, float(capital)) for ts, capital in outcome.equity],
        kill_switch_trips=sum(1 for e in outcome.risk_events if e.kind == "trip"),
        pauses=[
            (e.check, e.event_ts.isoformat(), e.paused_until.isoformat())
            for e in outcome.risk_events
            if e.kind == "trip" and e.paused_until is not None
        ],
        skipped=outcome.skipped,
    )


def period_pnl(outcome: ReplayResult, window: tuple[float, float], period_s: float) -> list[float]:
    """Change of capital over each period of the window; lots still open at its end are
    counted, at settlement, in the last period."""
    start, end = window
    periods = max(int(np.ceil((end - start) / period_s - 1e-9)), 1)
    times = np.array([ts for ts, _ in outcome.equity], dtype=float)
    values = np.array([float(capital) for _, capital in outcome.equity], dtype=float)
    boundaries = start + period_s * np.arange(1, periods)
    index = np.searchsorted(times, boundaries, side="right") - 1
    inner = np.where(index >= 0, values[np.maximum(index, 0)], float(outcome.starting_capital))
    marks = np.r_[float(outcome.starting_capital), inner, float(outcome.final_capital)]
    return np.diff(marks).tolist()


SCREEN_S_PER_ROW = 0.4e-6
"""Vectorised screens and model probabilities, per quote row and fold (benchmarks/RESULTS.md:
0.3 µs measured)."""
REPLAY_S_PER_ROW = 2e-6
"""The cycle loop, per quote row and cell: measured 0.9 µs where 1% of the rows pass the
screens and up to 3 µs where 11% do (benchmarks/RESULTS.md); the estimate takes the middle."""
FIT_S = 1.0
"""One walk-forward refit on a few hundred thousand training points."""
BYTES_PER_ROW = 350
"""A quote row in memory with its screens, marks and the Parquet read behind it, in one worker
(3.4 GB measured for 10M rows)."""


@dataclass(frozen=True)
class SearchEstimate:
    """What a search will take before it starts: wall time on `workers` processes and the
    peak memory of one worker (each holds the whole history)."""

    rows: int
    cells: int
    folds: int
    refits: int
    workers: int
    seconds: float
    peak_mb: float

    def describe(self) -> str:
        return (
            f"{self.cells} cells x {self.folds} folds over {self.rows:,} quote rows"
            f" ({self.refits} model refits) on {self.workers} worker(s): about"
            f" {self.seconds:,.0f} s and {self.peak_mb:,.0f} MB per worker"
        )


class GridTooLarge(ValueError):
    """A search refused up front: its estimate exceeds the time or memory budget."""


def estimate_search(
    rows: int, cells: int, folds: int, refits: int, workers: int = 1, steps: int | None = None
) -> SearchEstimate:
    """`steps`: the units of work the search is cut into (folds, or fold × cell slices),
    at most `workers` of which run at once."""
    work = rows * (SCREEN_S_PER_ROW + cells * REPLAY_S_PER_ROW) + refits * FIT_S
    parallel = max(1, min(workers, steps or folds))
    return SearchEstimate(
        rows, cells, folds, refits, workers, work / parallel, rows * BYTES_PER_ROW / 1e6
    )


def require_within_budget(estimate: SearchEstimate, max_seconds: float, max_mb: float) -> None:
    """Refuse, naming the estimate and the budget, a search that would not fit."""
    problems = []
    if estimate.seconds > max_seconds:
        problems.append(f"time budget {max_seconds:,.0f} s")
    if estimate.peak_mb > max_mb:
        problems.append(f"memory budget {max_mb:,.0f} MB")
    if problems:
        over = " and the ".join(problems)
        raise GridTooLarge(
            f"refused before starting: {estimate.describe()}, over the {over};"
            " choose a smaller grid, fewer folds or a shorter range"
        )
