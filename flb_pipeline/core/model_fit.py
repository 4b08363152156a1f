"""Fitting one version of the win-probability model from settled markets' candles.

The daily `win_probability_model` asset and the backtester's walk-forward refits both fit
through `fit_model`: the same training points (each market's price at several horizons,
`core.horizon_prices`), the same time split, MAP fit and tradeable gate. A backtest that fitted
its models any other way would be testing a model that never trades.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from flb_pipeline.core.calibration import (
    CalibrationPrior,
    HorizonBuckets,
    WinProbabilityModel,
    clean_sample,
    fit_calibration,
    time_split,
)
from flb_pipeline.core.families import market_family
from flb_pipeline.core.gate import GateRules, evaluate_calibration
from flb_pipeline.core.horizon_prices import (
    HorizonCount,
    HorizonQuotes,
    PriceTolerance,
    horizon_points,
)

DEFAULT_TRAINING_HORIZONS_S = (300.0, 1_800.0, 10_800.0, 43_200.0, 259_200.0, 1_209_600.0)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How a model version is fitted and gated (the calibration job's config, as values)."""

    horizons_s: tuple[float, ...] = DEFAULT_TRAINING_HORIZONS_S
    buckets: HorizonBuckets = field(default_factory=HorizonBuckets)
    tolerance: PriceTolerance = field(default_factory=PriceTolerance)
    test_fraction: float = 0.3
    min_points: int = 200
    rules: GateRules = field(default_factory=GateRules)


@dataclass(frozen=True)
class FittedModel:
    """A model version and what its training data looked like: points per horizon (with the
    gaps and one-sided candles skipped) and rows dropped as unusable."""

    model: WinProbabilityModel
    counts: list[HorizonCount]
    dropped: int


def fit_model(
    quotes: HorizonQuotes, settings: ModelSettings, prior: CalibrationPrior, model_id: str
) -> FittedModel:
    """Train on the earlier markets, gate on the later ones (`time_split`); the fit that was
    evaluated is the one deployed. Raises `CalibrationFailed` when no trustworthy fit exists."""
    points, counts = horizon_points(quotes, settings.horizons_s, settings.tolerance)
    sample, dropped = clean_sample(points)
    train, test = time_split(sample, settings.test_fraction)
    fit = fit_calibration(train, prior, horizons=settings.buckets, min_points=settings.min_points)
    report = evaluate_calibration(fit, test, rules=settings.rules)
    model = WinProbabilityModel(model_id, fit, report, settings.horizons_s)
    return FittedModel(model, counts, dropped)


def horizon_quotes(frame: pd.DataFrame) -> HorizonQuotes:
    """`store.models.calibration_frame`'s columns as arrays; families are looked up once per
    distinct (market category, series category) pair."""
    pairs = list(
        zip(frame["category"].map(_text), frame["series_category"].map(_text), strict=True)
    )
    family_of = {pair: market_family(*pair) for pair in set(pairs)}
    return HorizonQuotes(
        event=frame["event_ticker"].to_numpy(dtype=object),
        family=np.array([family_of[pair] for pair in pairs], dtype=object),
        outcome=frame["outcome"].to_numpy(dtype=int),
        open_ts=frame["open_ts"].to_numpy(dtype=float),
        close_ts=frame["close_ts"].to_numpy(dtype=float),
        horizon_s=frame["horizon_s"].to_numpy(dtype=float),
        candle_ts=frame["candle_ts"].to_numpy(dtype=float, na_value=np.nan),
        yes_bid=frame["yes_bid"].to_numpy(dtype=float, na_value=np.nan),
        yes_ask=frame["yes_ask"].to_numpy(dtype=float, na_value=np.nan),
    )


def _text(value: object) -> str | None:
    """A nullable text column's value (pandas shows SQL NULL as NaN)."""
    return None if pd.isna(value) else str(value)
