"""The threshold search: its grid, its folds, its refusal of oversized grids, and that it
adopts nothing in a world without bias."""

import json
import math
from dataclasses import asdict
from decimal import Decimal

import pytest

from flb_pipeline.core.backtest import ReplaySettings
from flb_pipeline.core.search_verdict import decide
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.core.threshold_search import (
    DEFAULT_CELL,
    GRIDS,
    GridAxes,
    GridTooLarge,
    SearchSettings,
    estimate_search,
    fold_windows,
    require_within_budget,
    run_fold,
    threshold_grid,
)
from flb_pipeline.defs.assets.model import reference_prior
from flb_pipeline_tests.core.backtest_world import TEST_MODEL, ReplayWorld, world_history

DEFAULTS = StrategyThresholds()
AXES = GridAxes(
    (Decimal("0.80"), Decimal("0.90")), (0.005, 0.02), (0.25,), ((60.0, 3_600.0),), ("taker",)
)
SETTINGS = SearchSettings(
    folds=3, refit_every_s=8 * 3_600.0, pnl_period_s=3_600.0,
    replay=ReplaySettings(settlement_lag_s=600.0), model=TEST_MODEL, bootstrap_resamples=500,
)  # fmt: skip


def search(world, cells, settings=SETTINGS):
    history = world.history
    start = world.world.start_ts + 43_200.0
    results = []
    for fold, window in enumerate(fold_windows(start, world.end_ts, settings.folds)):
        fold_results, _ = run_fold(history, fold, window, cells, settings, reference_prior())
        results += fold_results
    events = dict(zip(history.markets.ticker.tolist(), history.markets.event_ticker.tolist(),
                      strict=True))  # fmt: skip
    return decide(results, cells, events, settings.pnl_period_s, resamples=500)


def test_the_grid_starts_with_the_defaults_and_names_every_cell_once():
    cells = threshold_grid(GRIDS["small"], DEFAULTS, "taker")
    assert cells[0].cell_id == DEFAULT_CELL and cells[0].thresholds == DEFAULTS
    assert len({c.cell_id for c in cells}) == len(cells) == GRIDS["small"].size
    assert len({(c.thresholds, c.order_style) for c in cells}) == len(cells)
    assert {c.order_style for c in cells} == {"taker", "maker"}
    full = threshold_grid(GRIDS["full"], DEFAULTS, "taker")
    assert len(full) == GRIDS["full"].size  # the defaults are a point of both grids


def test_folds_cover_the_range_back_to_back():
    windows = fold_windows(0.0, 90.0, 3)
    assert windows == [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0)]
    with pytest.raises(ValueError, match="at least 2 folds"):
        SearchSettings(folds=1)


def test_a_grid_over_the_budget_is_refused_up_front_with_the_estimate():
    estimate = estimate_search(rows=10_000_000, cells=450, folds=4, refits=120, workers=2)
    with pytest.raises(GridTooLarge) as refused:
        require_within_budget(estimate, max_seconds=120.0, max_mb=4_000.0)
    message = str(refused.value)
    assert "450 cells x 4 folds over 10,000,000 quote rows" in message
    assert "time budget 120 s" in message and f"{estimate.seconds:,.0f} s" in message
    small = estimate_search(rows=100_000, cells=37, folds=4, refits=8, workers=2)
    require_within_budget(small, max_seconds=600.0, max_mb=4_000.0)


def test_no_bias_no_adoption():
    """Ten worlds with slope 1 everywhere: the search keeps the defaults in at least nine,
    and the probability of backtest overfitting flags the in-sample best (>= 0.5)."""
    cells = threshold_grid(AXES, DEFAULTS, "taker")
    verdicts = [
        search(world_history(100 + seed, ReplayWorld(slope=1.0, markets_per_day=1000, days=2)),
               cells)
        for seed in range(10)
    ]  # fmt: skip
    assert sum(not v.adopted for v in verdicts) >= 9
    assert sum(v.pbo is not None and v.pbo >= 0.5 for v in verdicts) >= 9
    for verdict in verdicts:
        assert verdict.reason.startswith("defaults stay") or verdict.adopted
        assert {t.name for t in verdict.failed_tests} <= {
            "beats_defaults_out_of_sample", "ci_above_zero", "pbo_below_half",
        }  # fmt: skip


def test_a_verdict_on_nothing_traded_has_no_figure_made_up():
    """A history whose models never pass the gate: no trades, so no Sharpe, no CI; the
    verdict says which tests failed and serialises without NaN."""
    cells = threshold_grid(AXES, DEFAULTS, "taker")
    verdict = search(world_history(7, ReplayWorld(slope=1.0, markets_per_day=300, days=2)), cells)
    assert not verdict.adopted and verdict.out_of_sample.trades == 0
    assert verdict.oos_return_ci is None and verdict.out_of_sample.sharpe is None
    assert "too few out-of-sample events for a CI" in verdict.reason
    text = json.dumps(asdict(verdict), default=str, allow_nan=False)
    assert "NaN" not in text and not math.isnan(verdict.out_of_sample.net_return)
