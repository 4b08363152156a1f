"""Versioned win-probability models (never overwritten) and the prices they are fitted on."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from flb_pipeline.core.calibration import CalibrationFit, WinProbabilityModel
from flb_pipeline.core.gate import CalibrationReport, EdgeCell, ReliabilityBucket, SliceScore

MODEL_FORMAT = 2
"""The layout of `fit_json` / `report_json` this code writes and reads (2: horizon buckets,
family slopes, gate cells; rows without a format hold the one-horizon model)."""

log = logging.getLogger(__name__)


def calibration_frame(con: duckdb.DuckDBPyConnection, horizons_s: Sequence[float]) -> pd.DataFrame:
    """One row per settled market and horizon: the market and the last candle at or before
    `close − horizon` (an ASOF join; candle columns are NULL where there is none). Whether
    the market was open then, the candle recent enough and two-sided is decided in
    `core.horizon_prices`, which also counts what it skips. Times are epoch seconds."""
    return con.execute(
        """
        WITH targets AS (
            SELECT m.ticker, m.event_ticker, m.category, s.category AS series_category,
                   CAST(m.result = 'yes' AS INTEGER) AS outcome,
                   epoch(m.open_time) AS open_ts, epoch(m.close_time) AS close_ts,
                   h.horizon_s, m.close_time - to_seconds(h.horizon_s) AS priced_at
            FROM settled_markets m
            LEFT JOIN series s ON s.ticker = m.series_ticker
            CROSS JOIN (SELECT unnest(?::DOUBLE[]) AS horizon_s) h
            WHERE m.result IN ('yes', 'no')
        )
        SELECT t.ticker, t.event_ticker, t.category, t.series_category, t.outcome,
               t.open_ts, t.close_ts, t.horizon_s, epoch(p.period_end) AS candle_ts,
               CAST(p.yes_bid AS DOUBLE) AS yes_bid, CAST(p.yes_ask AS DOUBLE) AS yes_ask
        FROM targets t ASOF LEFT JOIN settled_prices p
            ON t.ticker = p.ticker AND t.priced_at >= p.period_end
        ORDER BY t.close_ts, t.ticker, t.horizon_s
        """,
        [list(horizons_s)],
    ).df()


def save_model(
    con: duckdb.DuckDBPyConnection, model: WinProbabilityModel, fitted_at: datetime
) -> None:
    """Insert only: a model id is a version, and versions are never rewritten."""
    report = model.report
    con.execute(
        """
        INSERT INTO win_probability_models (
            model_id, fitted_at, cold_start, intercept, n_train, n_test, brier_model,
            brier_price, log_loss_model, log_loss_price, fit_json, report_json, model_format,
            training_horizons_s
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            model.model_id,
            fitted_at,
            model.cold_start,
            model.fit.intercept,
            model.fit.n_train,
            report.n_test if report else 0,
            report.brier_model if report else None,
            report.brier_price if report else None,
            report.log_loss_model if report else None,
            report.log_loss_price if report else None,
            json.dumps(asdict(model.fit), allow_nan=False),
            json.dumps(asdict(report), allow_nan=False) if report else None,
            MODEL_FORMAT,
            list(model.training_horizons_s),
        ],
    )


def latest_model(con: duckdb.DuckDBPyConnection) -> WinProbabilityModel | None:
    """The most recently saved version (insertion order: clocks can repeat, rows cannot).

    Fails closed: a latest row this code cannot read (an older model format, a damaged
    document) is no model, with one log line saying why, never a crash or a guess.
    """
    row = con.execute(
        "SELECT model_id, model_format, fit_json, report_json, training_horizons_s"
        " FROM win_probability_models ORDER BY rowid DESC LIMIT 1"
    ).fetchall()
    if not row:
        return None
    model_id, model_format, fit_json, report_json, horizons = row[0]
    if model_format != MODEL_FORMAT:
        log.error(
            f"model {model_id} was saved in model format {model_format or 1}, this code reads"
            f" format {MODEL_FORMAT}: treated as no model until win_probability_model is refitted"
        )
        return None
    try:
        return WinProbabilityModel(
            model_id=model_id,
            fit=_fit(json.loads(fit_json)),
            report=_report(json.loads(report_json)) if report_json else None,
            training_horizons_s=tuple(horizons or ()),
        )
    except (KeyError, TypeError, ValueError) as error:
        log.error(f"model {model_id} cannot be read ({error!r}): treated as no model")
        return None


def model_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM win_probability_models").fetchall()[0][0])


def _fit(data: dict[str, Any]) -> CalibrationFit:
    return CalibrationFit(
        **{
            **data,
            "horizon_edges_s": tuple(data["horizon_edges_s"]),
            "horizon_slopes": tuple(data["horizon_slopes"]),
            "covariance": tuple(tuple(row) for row in data["covariance"]),
            "horizon_points": tuple(data["horizon_points"]),
        }
    )


def _report(data: dict[str, Any]) -> CalibrationReport:
    return CalibrationReport(
        **{
            **data,
            "horizon_edges_s": tuple(data["horizon_edges_s"]),
            "horizon_labels": tuple(data["horizon_labels"]),
            "reliability": [ReliabilityBucket(**bucket) for bucket in data["reliability"]],
            "families": [SliceScore(**score) for score in data["families"]],
            "horizons": [SliceScore(**score) for score in data["horizons"]],
            "cells": [EdgeCell(**cell) for cell in data["cells"]],
        }
    )
