"""win_probability_model through Dagster against the simulator's synthetic history."""

from pathlib import Path

import numpy as np
import pytest

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
