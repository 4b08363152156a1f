import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from flb_pipeline.core.calibration import (
    WinProbabilityModel,
    cold_start_fit,
    fit_calibration,
)
from flb_pipeline.core.gate import evaluate_calibration
from flb_pipeline.core.records import PricePoint, SettledMarket
from flb_pipeline.store import Store
from flb_pipeline.store.history import append_price_points, append_settled_markets
from flb_pipeline.store.models import calibration_frame, latest_model, model_count, save_model
from flb_pipeline_tests.core.synthetic_world import World, evidence_slope, history
from flb_pipeline_tests.core.test_calibration import PUBLISHED_PRIOR

FITTED_AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
CLOSE = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def fitted_model() -> WinProbabilityModel:
    world = World(evidence_slope, {"crypto": 0.1, "finance": -0.1}, events=1_500)
    train, test, _ = history(np.random.default_rng(1), world).split(0.3)
    fit = fit_calibration(train, PUBLISHED_PRIOR)
    return WinProbabilityModel("wpm-a", fit, evaluate_calibration(fit, test), (300.0, 1800.0))


def test_a_model_and_its_report_read_back_exactly(tmp_path, fitted_model):
    cold = WinProbabilityModel("wpm-cold", cold_start_fit(PUBLISHED_PRIOR), None, (300.0,))
    with Store(tmp_path / "flb.duckdb").connect() as con:
        save_model(con, cold, FITTED_AT)
        assert latest_model(con) == cold
        save_model(con, fitted_model, FITTED_AT)
        read = latest_model(con)
        assert model_count(con) == 2

    assert read == fitted_model
    assert read.report.cells and read.report.cells == fitted_model.report.cells
    prices, families = np.array([0.9, 0.1]), ["crypto", "finance"]
    seconds = np.array([600.0, 86_400.0 * 20])
    assert np.array_equal(read.assess(prices, families, seconds)[0],
                          fitted_model.assess(prices, families, seconds)[0])  # fmt: skip


def test_a_row_of_the_previous_model_format_is_no_model_and_says_so(tmp_path, caplog):
    """Rows written before migration 11 (one horizon, one slope) are not read: no crash, no
    guess, one log line, and trading stays blocked until a refit."""
    with Store(tmp_path / "flb.duckdb").connect() as con:
        con.execute(
            "INSERT INTO win_probability_models (model_id, fitted_at, cold_start, horizon_s,"
            " intercept, slope, slope_se, n_train, n_test, fit_json)"
            " VALUES ('wpm-old', ?, false, 300, 0.02, 1.1, 0.01, 5000, 2000, ?)",
            [FITTED_AT, json.dumps({"intercept": 0.02, "slope": 1.1, "family_offsets": {}})],
        )
        with caplog.at_level(logging.ERROR, logger="flb_pipeline.store.models"):
            assert latest_model(con) is None

    (record,) = caplog.records
    assert "wpm-old" in record.message and "model format 1" in record.message


def test_a_damaged_model_document_is_no_model(tmp_path, caplog, fitted_model):
    with Store(tmp_path / "flb.duckdb").connect() as con:
        save_model(con, fitted_model, FITTED_AT)
        con.execute("UPDATE win_probability_models SET fit_json = '{\"intercept\": 1}'")
        with caplog.at_level(logging.ERROR, logger="flb_pipeline.store.models"):
            assert latest_model(con) is None

    assert "wpm-a cannot be read" in caplog.records[0].message


def market(ticker: str, *, event: str = "E1", opened_minutes_before: float = 60) -> SettledMarket:
    opened = CLOSE - timedelta(minutes=opened_minutes_before)
    return SettledMarket(ticker, event, "S", "Climate and Weather", opened, CLOSE, "yes", None)


def candle(ticker: str, minutes_before: float, bid: str | None, ask: str | None) -> PricePoint:
    return PricePoint(
        ticker,
        CLOSE - timedelta(minutes=minutes_before),
        None if bid is None else Decimal(bid),
        None if ask is None else Decimal(ask),
        None,
    )


def test_calibration_frame_takes_the_last_candle_at_or_before_each_horizon(tmp_path):
    with Store(tmp_path / "flb.duckdb").connect() as con:
        append_settled_markets(con, [market("A"), market("B", opened_minutes_before=10)],
                               FITTED_AT)  # fmt: skip
        append_price_points(con, [
            candle("A", 31, "0.40", "0.42"), candle("A", 29, "0.50", "0.52"),
            candle("A", 6, "0.80", "0.82"), candle("A", 4, "0.90", "0.92"),
            candle("B", 4, None, "0.30"),
        ])  # fmt: skip
        frame = calibration_frame(con, [300.0, 1800.0])

    rows = {(r.ticker, r.horizon_s): r for r in frame.itertuples()}
    assert len(frame) == 4  # every market at every horizon, priced or not
    assert (rows["A", 300.0].yes_bid, rows["A", 300.0].yes_ask) == (0.80, 0.82)
    assert rows["A", 300.0].close_ts - rows["A", 300.0].candle_ts == 360
    assert rows["A", 1800.0].yes_bid == 0.40  # 29 minutes before close is after the moment
    assert np.isnan(rows["B", 300.0].candle_ts)  # B's only candle is after the moment
    assert rows["B", 1800.0].open_ts > rows["B", 1800.0].close_ts - 1800
    assert rows["A", 300.0].outcome == 1 and rows["A", 300.0].event_ticker == "E1"
