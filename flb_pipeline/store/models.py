"""Versioned win-probability models (never overwritten) and the sample they are fitted on."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

import duckdb
import pandas as pd

from flb_pipeline.core.calibration import (
    CalibrationFit,
    CalibrationReport,
    FamilyScore,
    ReliabilityBucket,
    WinProbabilityModel,
)


def calibration_frame(con: duckdb.DuckDBPyConnection, horizon_s: float) -> pd.DataFrame:
    """Each settled market's YES price `horizon_s` before its close, and its result.

    The price is the last candle at or before that moment (an ASOF join): the mid when both
    sides quote, otherwise nothing, since a one-sided book has no fair price to calibrate.
    """
    return con.execute(
        """
        WITH horizon AS (
            SELECT m.ticker, m.series_ticker, m.category, s.category AS series_category,
                   m.result, m.close_time, m.close_time - to_seconds(?::DOUBLE) AS priced_at
            FROM settled_markets m LEFT JOIN series s ON s.ticker = m.series_ticker
            WHERE m.result IN ('yes', 'no')
        )
        SELECT h.ticker, h.series_ticker, h.category, h.series_category, h.close_time,
               CAST(h.result = 'yes' AS INTEGER) AS outcome,
               CAST((p.yes_bid + p.yes_ask) / 2 AS DOUBLE) AS price
        FROM horizon h ASOF JOIN settled_prices p
            ON h.ticker = p.ticker AND h.priced_at >= p.period_end
        WHERE p.yes_bid IS NOT NULL AND p.yes_ask IS NOT NULL
        ORDER BY h.close_time, h.ticker
        """,
        [horizon_s],
    ).df()


def save_model(
    con: duckdb.DuckDBPyConnection, model: WinProbabilityModel, fitted_at: datetime
) -> None:
    """Insert only: a model id is a version, and versions are never rewritten."""
    report = model.report
    con.execute(
        """
        INSERT INTO win_probability_models VALUES
            (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            model.model_id,
            fitted_at,
            model.cold_start,
            model.horizon_s,
            model.fit.intercept,
            model.fit.slope,
            model.fit.slope_se,
            model.fit.n_train,
            report.n_test if report else 0,
            report.brier_model if report else None,
            report.brier_price if report else None,
            report.log_loss_model if report else None,
            report.log_loss_price if report else None,
            json.dumps(asdict(model.fit)),
            json.dumps(asdict(report)) if report else None,
        ],
    )


def latest_model(con: duckdb.DuckDBPyConnection) -> WinProbabilityModel | None:
    """The most recently saved version (insertion order: clocks can repeat, rows cannot)."""
    row = con.execute(
        "SELECT model_id, horizon_s, fit_json, report_json FROM win_probability_models"
        " ORDER BY rowid DESC LIMIT 1"
    ).fetchall()
    if not row:
        return None
    model_id, horizon_s, fit_json, report_json = row[0]
    return WinProbabilityModel(
        model_id=model_id,
        fit=CalibrationFit(**json.loads(fit_json)),
        report=_report(json.loads(report_json)) if report_json else None,
        horizon_s=horizon_s,
    )


def model_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM win_probability_models").fetchall()[0][0])


def _report(data: dict) -> CalibrationReport:
    return CalibrationReport(
        **{
            **data,
            "reliability": [ReliabilityBucket(**bucket) for bucket in data["reliability"]],
            "families": [FamilyScore(**score) for score in data["families"]],
        }
    )
