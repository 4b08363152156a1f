"""How a search is cut into steps: a fold and a slice of the cells each."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from flb_pipeline.core.threshold_search import SearchSettings
from flb_pipeline.defs.backtest_plan import Budget, day_range, fold_tasks, make_plan


def plan(cells_per_step: int):
    return make_plan(
        run_id="bt-test", first_day=date(2026, 3, 1), last_day=date(2026, 3, 4), grid="small",
        settings=SearchSettings(folds=2), source="candles", step_s=60.0,
        lookback=timedelta(days=30), root=Path("/nowhere"), budget=Budget(),
        cells_per_step=cells_per_step,
    )  # fmt: skip


def test_every_cell_of_every_fold_is_in_exactly_one_step():
    search = plan(cells_per_step=10)
    tasks = fold_tasks(search)
    assert len(search.cells) == 36 and len(tasks) == 2 * 4
    covered = [(t.fold, c) for t in tasks for c in range(t.first_cell, t.last_cell)]
    assert sorted(covered) == [(f, c) for f in (0, 1) for c in range(36)]
    assert tasks[3].key == "fold_0_cells_30_36" and len({t.key for t in tasks}) == len(tasks)
    assert [t.fold for t in fold_tasks(plan(cells_per_step=100))] == [0, 1]


def test_the_range_is_whole_utc_days_and_the_folds_cover_it():
    search = plan(cells_per_step=25)
    start, end = day_range(date(2026, 3, 1), date(2026, 3, 4))
    assert (search.start, search.end) == (start, end) and end - start == timedelta(days=4)
    assert search.windows() == [
        (start.timestamp(), (start + timedelta(days=2)).timestamp()),
        ((start + timedelta(days=2)).timestamp(), end.timestamp()),
    ]
    with pytest.raises(ValueError, match="ends"):
        day_range(date(2026, 3, 2), date(2026, 3, 1))
