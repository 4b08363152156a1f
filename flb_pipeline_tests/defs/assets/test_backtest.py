"""threshold_backtest against simulator history: truth recovery, the multiprocess job, what
strategy_thresholds does with a search's verdict, and a range without data."""

import os
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from flb_pipeline.core.backtest import ReplaySettings, replay
from flb_pipeline.core.calibration import HorizonBuckets
from flb_pipeline.core.gate import GateRules
from flb_pipeline.core.model_fit import ModelSettings
from flb_pipeline.core.overfitting import day_event_bootstrap
from flb_pipeline.core.prescreen import screenable
from flb_pipeline.core.realisation import realisation_by_bucket
from flb_pipeline.core.replay_models import refit_times, walk_forward_models
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.defs.assets.model import reference_prior
from flb_pipeline.demo import QUIET, materialization_metadata
from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline.exchange.simulator.world import World
from flb_pipeline.store import Store
from flb_pipeline.store.history_export import CANDLES, export_history, open_export, replay_history
from flb_pipeline_tests.conftest import (
    SIM_START,
    TRADING_WORLD,
    definitions_for,
    run_job,
    small_world,
)

HISTORY_START = SIM_START - timedelta(days=1)
SIM_HORIZONS = (300.0, 600.0, 900.0)
SIM_MODEL = ModelSettings(
    horizons_s=SIM_HORIZONS,
    buckets=HorizonBuckets((3_600.0,)),
    rules=GateRules(min_points=30, min_events=20, fdr=1.0),
)
"""Markets of the simulated past live 20 minutes: the model is trained on their last 15, and
its gate shows the mechanics (see EDGE_ONLY_GATE) since a day of history proves no cell."""
WORLDS = {"constant slope 1.3": small_world(**TRADING_WORLD)}
"""Simulated worlds with known truth; the evidence-calibrated world joins as one more entry."""
JOB_CONFIG = {
    "first_day": "2026-03-01",
    "last_day": "2026-03-02",
    "folds": 2,
    "refit_every_hours": 6.0,
    "pnl_period_hours": 1.0,
    "min_favourite_prices": [0.85, 0.9],
    "min_edges": [0.01],
    "windows_minutes": [[1.0, 30.0]],
    "order_styles": ["taker"],
    "settlement_lag_minutes": 1.0,
    "bootstrap_resamples": 200,
    "calibration": {
        "horizons_minutes": [5.0, 10.0, 15.0],
        "horizon_bucket_edges_hours": [1.0],
        "min_cell_points": 30,
        "min_cell_events": 20,
        "fdr": 1.0,
    },
}


@pytest.fixture(scope="module")
def sim_store(calibrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's settled history (slope 1.3) with the series' fee schedules, which a
    first scan records."""
    root = tmp_path_factory.mktemp("backtest")
    shutil.copyfile(calibrated_template, root / "flb.duckdb")
    with SimulatorServer(small_world(**TRADING_WORLD)) as server:
        assert run_job(definitions_for(server.url, root / "flb.duckdb"), "snapshot_job").success
    return root / "flb.duckdb"


def truth_of(config: SimConfig):
    """The simulator's hidden truth of a market at a time, from its world rebuilt under the
    same seed and start (the world of a seed never depends on who looked at it)."""
    world = World(config, config.start_time.timestamp())

    def truth(ticker: str, ts: float) -> float:
        probability, _ = world.truth(world.market_by_ticker[ticker], world.tick_at(ts))
        return probability

    return truth


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_realised_net_return_agrees_with_the_simulators_truth(world, sim_store, tmp_path):
    """Replayed over the simulated past with the default thresholds, each 5¢ bucket's
    realised net P&L per contract lies within its day/event bootstrap CI (where the bucket
    saw five losing events) of the expectation from the simulator's true probabilities at
    entry, the fees paid and the spread crossed; so does the pool of all trades."""
    store = Store(sim_store)
    with store.connect() as con:
        export_history(con, tmp_path, HISTORY_START, SIM_START, HISTORY_START, store.archive_dir)
    history = replay_history(
        open_export(tmp_path), source=CANDLES, step_s=60.0, training_horizons_s=SIM_HORIZONS
    )
    window = (HISTORY_START.timestamp() + 8 * 3_600, SIM_START.timestamp())
    schedule = walk_forward_models(
        history.training, refit_times(*window, 4 * 3_600), SIM_MODEL, reference_prior(), 60.0
    )
    screen = screenable(history, schedule, *window)
    settings = ReplaySettings(settlement_lag_s=60.0)
    result = replay(history, schedule, screen, StrategyThresholds(), settings, window)
    trades = result.trades
    truth = truth_of(WORLDS[world])
    q = [truth(t.ticker, t.opened_at.timestamp()) for t in trades]
    expected = [
        (p if t.side == "yes" else 1 - p) * float(t.contracts) - float(t.cost + t.fees)
        for p, t in zip(q, trades, strict=True)
    ]
    events = [str(history.markets.event_ticker[list(history.markets.ticker).index(t.ticker)])
              for t in trades]  # fmt: skip
    days = [t.closed_at.date().isoformat() for t in trades]
    cells = realisation_by_bucket(trades, expected, ["all"] * len(trades), events, days)
    checked = [cell for cell in cells if cell.ci is not None]
    assert len(trades) > 100 and checked
    for cell in checked:
        assert cell.ci.low <= cell.expected <= cell.ci.high, cell
    contracts = np.array([float(t.contracts) for t in trades])
    pooled = day_event_bootstrap(
        np.array([float(t.net_pnl) for t in trades]), np.array(days, object),
        np.array(events, object), denominator=contracts,
    )  # fmt: skip
    assert pooled.low <= sum(expected) / contracts.sum() <= pooled.high
    assert sum(expected) > 0  # at slope 1.3 favourites pay after fee and spread


def backtest_job_of_environment() -> dg.JobDefinition:
    """`backtest_job` of the code location the test set up (rebuilt in every step process)."""
    defs = definitions_for(os.environ["FLB_TEST_SIM_URL"], Path(os.environ["FLB_TEST_DB"]))
    return defs.resolve_job_def("backtest_job")


def run_backtest_job(db: Path, sim_url: str, config: dict, temp: Path) -> tuple:
    os.environ["FLB_TEST_SIM_URL"], os.environ["FLB_TEST_DB"] = sim_url, str(db)
    run_config = {**QUIET, "ops": {"threshold_backtest": {"ops": {
        "export_backtest_history": {"config": config}}}}}  # fmt: skip
    temp.mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(temp)) as instance:
        result = dg.execute_job(
            dg.reconstructable(backtest_job_of_environment), instance, run_config=run_config,
            raise_on_error=False,
        )  # fmt: skip
        steps = {
            event.step_key
            for event in result.all_events
            if event.event_type_value == "STEP_SUCCESS"
        }
        return result, steps


def test_backtest_job_runs_each_fold_as_its_own_step_and_merges_into_the_store(sim_store, tmp_path):
    db = tmp_path / "flb.duckdb"
    shutil.copyfile(sim_store, db)
    with SimulatorServer(small_world(**TRADING_WORLD)) as server:
        result, steps = run_backtest_job(db, server.url, JOB_CONFIG, tmp_path / "dagster")
    assert result.success
    assert {step for step in steps if "replay_backtest_fold" in step} == {
        "threshold_backtest.replay_backtest_fold[fold_0_cells_0_2]",
        "threshold_backtest.replay_backtest_fold[fold_1_cells_0_2]",
    }
    with Store(db).connect() as con:
        run = con.execute(
            "SELECT run_id, cells, folds, adopted, reason, report_path FROM backtest_runs"
        ).fetchall()
        cells = con.execute("SELECT count(*), sum(trades) FROM backtest_cells").fetchone()
    (run_id, n_cells, folds, adopted, reason, report) = run[0]
    assert (n_cells, folds) == (2, 2) and cells[0] == 2 and cells[1] > 0  # 0.85 is the default
    assert adopted is False or reason.endswith("every test passed")
    text = Path(report).read_text()
    assert text.startswith(f"# Threshold search {run_id}") and "## Chosen cell by day" in text
    results = sorted((db.parent / "backtests" / run_id / "cells").glob("*/fold=*.parquet"))
    assert len(results) == 4


def test_strategy_thresholds_trade_only_thresholds_a_search_adopted(trading_sim, trading_db):
    defs = definitions_for(trading_sim.url, trading_db)
    job = defs.resolve_implicit_global_asset_job_def()

    def materialise() -> dict:
        result = job.execute_in_process(
            asset_selection=[dg.AssetKey("strategy_thresholds")], run_config=QUIET
        )
        return materialization_metadata(result, "strategy_thresholds")

    assert materialise()["backtest"] == "no threshold search yet"
    adopted = StrategyThresholds(Decimal("0.9"), 0.02, 0.25, 60.0, 1_800.0)
    with Store(trading_db).connect() as con:
        _record_search(con, "bt-refused", adopted, adopted=False, style="taker", minutes=0)
    kept = materialise()
    assert kept["source"] == "config" and kept["min_favourite_price"] == "0.85"
    assert kept["backtest"].startswith("bt-refused: defaults stay")
    with Store(trading_db).connect() as con:
        _record_search(con, "bt-adopted", adopted, adopted=True, style="taker", minutes=1)
    taken = materialise()
    assert taken["source"] == "backtest:bt-adopted" and taken["min_favourite_price"] == "0.9"
    assert taken["thresholds_id"] != kept["thresholds_id"]


def _record_search(con, run_id, thresholds, *, adopted, style, minutes):
    """A search's row as `merge_backtest` writes it (only the columns this test reads vary)."""
    reason = "c001 adopted: every test passed" if adopted else "defaults stay: pbo_below_half"
    con.execute(
        "INSERT INTO backtest_runs VALUES (?, ?, ?, ?, 'small', 3, 2, 'c001', ?, ?, '[]', NULL,"
        " NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, '{}', NULL)",
        [
            run_id, datetime(2026, 3, 2, 15, minutes, tzinfo=UTC), HISTORY_START, SIM_START,
            adopted, reason, thresholds.min_favourite_price, thresholds.min_edge,
            thresholds.kelly_fraction, thresholds.min_seconds_to_close,
            thresholds.max_seconds_to_close, style,
        ],
    )  # fmt: skip
