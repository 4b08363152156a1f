"""From every cell on every fold to one verdict: which thresholds, and may they be adopted.

- Walk-forward selection: before each fold after the first, the cell with the best Sharpe
  ratio on the folds before it is chosen, and scored on that fold. Stitched together, these
  scores are the out-of-sample record of choosing thresholds this way.
- The cell that would be chosen now (best on every fold) is the candidate for adoption.
- It is adopted only if all of these hold: the out-of-sample record beats the defaults' on
  the same folds, its block-bootstrap CI (days, then events) lies above zero, and the
  probability of backtest overfitting over the whole grid is below one half. Each test that
  fails is named, with its figures; the deflated Sharpe ratio of the candidate is reported.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from flb_pipeline.core import metrics
from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.core.ledger import ClosedTrade
from flb_pipeline.core.overfitting import (
    BootstrapInterval,
    day_event_bootstrap,
    deflated_sharpe_ratio,
    probability_of_overfitting,
)
from flb_pipeline.core.performance import max_drawdown, sharpe_ratio, sortino_ratio
from flb_pipeline.core.threshold_search import DAY_S, CellResult, GridCell

PBO_LIMIT = 0.5


@dataclass(frozen=True)
class CellScore:
    """A cell's figures over a set of folds (money in dollars, returns on starting capital
    per fold, ratios annualised over 365 days; None where a figure is undefined)."""

    cell_id: str
    trades: int
    net_pnl: float
    net_return: float
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    hit_rate: float | None
    turnover: float
    capital_utilisation: float
    bucket_net_bps: dict[str, float | None]
    kill_switch_trips: int


@dataclass(frozen=True)
class Test:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class SearchVerdict:
    chosen_cell: str
    defaults_cell: str
    adopted: bool
    tests: list[Test]
    reason: str
    walk_forward: list[tuple[int, str]]
    """(fold, cell chosen on the folds before it) for every scored fold."""
    out_of_sample: CellScore
    defaults_out_of_sample: CellScore
    oos_return_ci: BootstrapInterval | None
    pbo: float | None
    pbo_logits: list[float]
    deflated_sharpe: float | None
    scores: dict[str, CellScore]

    @property
    def failed_tests(self) -> list[Test]:
        return [test for test in self.tests if not test.passed]


def score_cell(cell_id: str, results: Sequence[CellResult], period_s: float) -> CellScore:
    trades = [t for r in results for t in r.trades]
    capital = float(sum(r.starting_capital for r in results)) or 1.0
    pnl = np.array([p for r in sorted(results, key=lambda r: r.fold) for p in r.period_pnl])
    per_fold_capital = float(results[0].starting_capital) if results else 1.0
    returns = pnl / per_fold_capital
    periods_per_year = 365 * DAY_S / period_s
    summary = metrics.trading_summary(trades)
    return CellScore(
        cell_id=cell_id,
        trades=len(trades),
        net_pnl=float(summary.net_pnl),
        net_return=float(summary.net_pnl) / capital,
        sharpe=sharpe_ratio(returns, periods_per_year),
        sortino=sortino_ratio(returns, periods_per_year),
        max_drawdown=max_drawdown(per_fold_capital + np.cumsum(pnl)).fraction,
        hit_rate=summary.win_rate,
        turnover=float(sum(r.traded_cost for r in results)) / capital,
        capital_utilisation=float(np.mean([r.exposure_share for r in results])) if results else 0.0,
        bucket_net_bps={
            f"{b.low_cents}-{b.high_cents}": b.net_bps for b in metrics.entry_price_buckets(trades)
        },
        kill_switch_trips=sum(r.kill_switch_trips for r in results),
    )


def decide(
    results: Sequence[CellResult],
    cells: Sequence[GridCell],
    events_of: Mapping[str, str],
    period_s: float,
    *,
    resamples: int = 2_000,
    seed: int = 0,
) -> SearchVerdict:
    """The verdict over every cell's results on every fold (`events_of`: ticker -> event,
    the bootstrap's block within a day)."""
    by_cell: dict[str, dict[int, CellResult]] = defaultdict(dict)
    for result in results:
        by_cell[result.cell_id][result.fold] = result
    ids = [cell.cell_id for cell in cells]
    folds = sorted({result.fold for result in results})
    defaults = ids[0]
    walk_forward = [(fold, _best(by_cell, ids, folds[:index], period_s))
                    for index, fold in enumerate(folds) if index > 0]  # fmt: skip
    oos_results = [by_cell[cell][fold] for fold, cell in walk_forward]
    oos = score_cell("walk_forward", oos_results, period_s)
    defaults_oos = score_cell(defaults, [by_cell[defaults][f] for f, _ in walk_forward], period_s)
    chosen = _best(by_cell, ids, folds, period_s)
    ci = _oos_ci(oos_results, events_of, resamples, seed)
    matrix = np.array([[p for f in folds for p in by_cell[c][f].period_pnl] for c in ids]).T
    overfitting = probability_of_overfitting(matrix)
    scores = {c: score_cell(c, list(by_cell[c].values()), period_s) for c in ids}
    tests = _tests(oos, defaults_oos, ci, overfitting.pbo if overfitting else None)
    adopted = chosen != defaults and all(test.passed for test in tests)
    return SearchVerdict(
        chosen_cell=chosen,
        defaults_cell=defaults,
        adopted=adopted,
        tests=tests,
        reason=_reason(chosen, defaults, tests),
        walk_forward=walk_forward,
        out_of_sample=oos,
        defaults_out_of_sample=defaults_oos,
        oos_return_ci=ci,
        pbo=overfitting.pbo if overfitting else None,
        pbo_logits=[float(x) for x in overfitting.logits] if overfitting else [],
        deflated_sharpe=_deflated(matrix, ids.index(chosen), len(ids)),
        scores=scores,
    )


def _best(
    by_cell: Mapping[str, Mapping[int, CellResult]],
    ids: Sequence[str],
    folds: Sequence[int],
    period_s: float,
) -> str:
    """The cell with the highest Sharpe on `folds` (no variation counts as 0); the first in
    grid order, the defaults, wins ties."""

    def sharpe(cell: str) -> float:
        pnl = [p for fold in folds for p in by_cell[cell][fold].period_pnl]
        return sharpe_ratio(np.asarray(pnl), 365 * DAY_S / period_s) or 0.0

    values = [sharpe(cell) for cell in ids]
    return ids[int(np.argmax(values))]


def _oos_ci(
    results: Sequence[CellResult], events_of: Mapping[str, str], resamples: int, seed: int
) -> BootstrapInterval | None:
    """CI of the out-of-sample return (net P&L over the starting capital of the scored folds)."""
    trades = [t for r in results for t in r.trades]
    if not trades:
        return None
    capital = float(sum(r.starting_capital for r in results))
    return day_event_bootstrap(
        np.array([float(t.net_pnl) for t in trades]),
        np.array([trading_day(t) for t in trades], dtype=object),
        np.array([events_of.get(t.ticker, t.ticker) for t in trades], dtype=object),
        scale=1 / capital,
        resamples=resamples,
        seed=seed,
    )


def trading_day(trade: ClosedTrade) -> str:
    """The New York trading day a trade closed on (a bootstrap block)."""
    return trade.closed_at.astimezone(ZoneInfo(TRADING_TIMEZONE)).date().isoformat()


def _tests(
    oos: CellScore, defaults: CellScore, ci: BootstrapInterval | None, pbo: float | None
) -> list[Test]:
    return [
        Test(
            "beats_defaults_out_of_sample",
            oos.trades > 0 and oos.net_pnl > defaults.net_pnl,
            f"walk-forward net P&L {oos.net_pnl:.2f} over {oos.trades} trades vs the defaults'"
            f" {defaults.net_pnl:.2f} over {defaults.trades}",
        ),
        Test(
            "ci_above_zero",
            ci is not None and ci.low > 0,
            "too few out-of-sample events for a CI"
            if ci is None
            else f"out-of-sample return {ci.estimate:.4%}, 95% CI [{ci.low:.4%}, {ci.high:.4%}]"
            f" ({ci.days} days, {ci.events} events)",
        ),
        Test(
            "pbo_below_half",
            pbo is not None and pbo < PBO_LIMIT,
            "PBO cannot be computed (fewer than 2 cells or 4 P&L periods)"
            if pbo is None
            else f"probability of backtest overfitting {pbo:.3f} (limit {PBO_LIMIT})",
        ),
    ]


def _reason(chosen: str, defaults: str, tests: list[Test]) -> str:
    failed = [t for t in tests if not t.passed]
    if failed:
        return "defaults stay: " + "; ".join(f"{t.name} failed ({t.detail})" for t in failed)
    if chosen == defaults:
        return "defaults stay: they are the best cell on every fold"
    return f"{chosen} adopted: every test passed"


def _deflated(matrix: np.ndarray, column: int, trials: int) -> float | None:
    """DSR of the chosen column's per-period P&L given the Sharpe spread of all columns."""
    if matrix.size == 0:
        return None
    deviations = matrix.std(axis=0, ddof=1)
    sharpes = np.divide(
        matrix.mean(axis=0), deviations, out=np.zeros(matrix.shape[1]), where=deviations > 0
    )
    variance = float(np.var(sharpes, ddof=1)) if trials > 1 else 0.0
    dsr = deflated_sharpe_ratio(matrix[:, column], trials, variance)
    return None if dsr is None or not math.isfinite(dsr) else dsr
