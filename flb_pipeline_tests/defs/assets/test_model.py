"""win_probability_model through Dagster against the simulator's synthetic history."""

from pathlib import Path

import numpy as np
import pytest

from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline.store.models import latest_model, model_count
from flb_pipeline_tests.conftest import (
    definitions_for,
    run_job,
    small_world,
)

HORIZON_WINDOW = {"ops": {"settled_history": {"config": {"candle_window_minutes": 6}}}}


@pytest.mark.parametrize("true_slope", [1.09, 1.3])
def test_fitted_slope_recovers_the_simulated_bias(true_slope, tmp_path):
    """6,000 settled events (~31k markets) with a known slope b: the fit lands within 0.05 of
    b with a standard error small enough that this is not luck, and beats the raw price on
    held-out Brier score."""
    world = small_world(
        flb_slope=true_slope, history_events=6000, history_days=3, markets_target=50
    )
    with SimulatorServer(world) as server:
        defs = definitions_for(server.url, tmp_path / "flb.duckdb", exchange={"reads_per_s": 500})
        assert run_job(defs, "history_job", run_config=HORIZON_WINDOW).success
        result = run_job(defs, "calibration_job")
    metadata = materialization_metadata(result, "win_probability_model")
    near_close = metadata["horizon_slopes"].records[0].data
    assert near_close["horizon"] == "<1h"
    assert abs(near_close["slope"] - true_slope) <= 0.05
    assert near_close["se"] < 0.04  # clustered by event: brackets share one outcome
    assert metadata["brier_model"] < metadata["brier_price"]
    assert metadata["n_train"] > 10_000 and metadata["cold_start"] is False
    assert len(metadata["reliability"].records) == 20
    picture = Path(metadata["reliability_diagram"])
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cold_start_uses_the_published_prior_and_says_so(simulator, db_path):
    result = run_job(definitions_for(simulator.url, db_path), "calibration_job")
    metadata = materialization_metadata(result, "win_probability_model")
    assert metadata["cold_start"] is True and "cold start" in metadata["note"]
    slopes = [row.data["slope"] for row in metadata["horizon_slopes"].records]
    assert len(slopes) == 5 and all(1.05 < slope < 1.15 for slope in slopes)
    assert metadata["n_train"] == 0
    with Store(db_path).connect() as con:
        model = latest_model(con)
    assert model is not None and model.cold_start
    q, tradeable = model.assess(np.array([0.9]), ["weather"], np.array([600.0]))
    assert 0.9 < q[0] < 1 and not tradeable[0]


def test_models_are_versioned_and_a_failed_fit_keeps_the_previous(trading_sim, trading_db):
    defs = definitions_for(trading_sim.url, trading_db)
    with Store(trading_db).connect() as con:
        before = latest_model(con)
        count = model_count(con)
    assert before is not None and not before.cold_start
    too_demanding = {"ops": {"win_probability_model": {"config": {"min_points": 10**7}}}}
    result = run_job(defs, "calibration_job", run_config=too_demanding)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "calibration failed" in message and before.model_id in message
    with Store(trading_db).connect() as con:
        assert model_count(con) == count
        assert latest_model(con).model_id == before.model_id
    refit = run_job(defs, "calibration_job")
    assert refit.success
    with Store(trading_db).connect() as con:
        assert model_count(con) == count + 1
        assert latest_model(con).model_id != before.model_id


SIM_HORIZONS = {"horizons_minutes": [2.0, 5.0, 10.0, 15.0]}


def test_the_horizon_model_is_fitted_saved_reported_and_traded(trading_sim, trading_db):
    """Prices at four horizons inside the simulator's 20-minute markets: each horizon is
    counted, the model is saved and read back as reported, the edge table and heatmap come
    with it, and trading_job decides with it (the mechanics gate: this history is too small
    to prove edge per cell)."""
    defs = definitions_for(trading_sim.url, trading_db)
    config = calibration_run_config({**EDGE_ONLY_GATE, **SIM_HORIZONS})
    result = run_job(defs, "calibration_job", run_config=config)
    assert result.success
    metadata = materialization_metadata(result, "win_probability_model")

    counts = [row.data for row in metadata["horizon_prices"].records]
    assert [c["horizon_minutes"] for c in counts] == [2.0, 5.0, 10.0, 15.0]
    assert all(c["used"] > 1000 and c["used"] + c["gaps"] + c["missing_prices"] == c["markets"]
               for c in counts)  # fmt: skip
    assert sum(c["missing_prices"] for c in counts) > 0  # one-sided candles: skipped, counted
    slopes = {row.data["horizon"]: row.data for row in metadata["horizon_slopes"].records}
    assert slopes["<1h"]["train_points"] == metadata["n_train"]
    assert abs(slopes["<1h"]["slope"] - 1.3) < 0.15
    cells = metadata["edge_cells"].records
    assert cells and {row.data["horizon"] for row in cells} == {"<1h"}
    assert any(row.data["tradeable"] for row in cells)
    assert "edge in" in metadata["edge_summary"] and "OFF" in metadata["edge_summary"]
    assert Path(metadata["edge_heatmap"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Store(trading_db).connect() as con:
        model = latest_model(con)
    assert model.model_id == metadata["model_id"]
    assert model.training_horizons_s == (120.0, 300.0, 600.0, 900.0)
    assert len(model.report.tradeable_cells()) == sum(row.data["tradeable"] for row in cells)

    trading = run_job(defs, "trading_job")
    assert trading.success
    assert materialization_metadata(trading, "order_submissions")["orders_sent"] > 0
    with Store(trading_db).connect() as con:
        used = con.execute("SELECT DISTINCT model_id FROM orders").fetchall()
    assert used == [(model.model_id,)]


def test_the_default_gate_does_not_pass_a_small_history_by_chance(trading_sim, trading_db):
    """With the real gate, 1,500 settled events are not evidence of edge in any cell: the
    model is saved and reported, nothing is tradeable, and no order is sent."""
    defs = definitions_for(trading_sim.url, trading_db)
    result = run_job(defs, "calibration_job")
    assert result.success
    metadata = materialization_metadata(result, "win_probability_model")
    assert metadata["tradeable_cells"] == "none"
    assert metadata["edge_summary"].startswith("no edge anywhere")
    assert "fdr 0.05" in metadata["edge_summary"]

    trading = run_job(defs, "trading_job")
    assert trading.success
    candidates = materialization_metadata(trading, "trade_candidates")
    assert candidates["candidates"] == 0
    assert candidates["exclusions"]["model_not_tradeable_here"] > 0


def test_a_model_of_the_previous_format_blocks_trading_until_refitted(trading_sim, trading_db):
    with Store(trading_db).connect() as con:
        con.execute(
            "INSERT INTO win_probability_models (model_id, fitted_at, cold_start, horizon_s,"
            " intercept, slope, slope_se, n_train, n_test, fit_json)"
            " VALUES ('wpm-old', now(), false, 300, 0.02, 1.1, 0.01, 5000, 2000, '{}')"
        )
    defs = definitions_for(trading_sim.url, trading_db)

    blocked = run_job(defs, "trading_job")

    assert not blocked.success
    failure = next(e for e in blocked.all_events if e.is_step_failure)
    assert "no win-probability model" in failure.step_failure_data.error.message
    gate = calibration_run_config(EDGE_ONLY_GATE)
    assert run_job(defs, "calibration_job", run_config=gate).success
    assert run_job(defs, "trading_job").success
