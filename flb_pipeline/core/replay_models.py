"""Which model a replayed decision uses: walk-forward refits, or one recorded model.

A refit at time R trains only on markets settled by R (close + the settlement lag) and
serves the decisions in [R, next refit): nothing a decision uses was known after it. A refit
that cannot produce a trustworthy model leaves its decisions without one (no trading), with
the reason kept, exactly as a failed daily calibration keeps trading blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

import numpy as np

from flb_pipeline.core.calibration import (
    CalibrationFailed,
    CalibrationPrior,
    WinProbabilityModel,
)
from flb_pipeline.core.horizon_prices import HorizonQuotes
from flb_pipeline.core.model_fit import ModelSettings, fit_model


@dataclass(frozen=True)
class ModelVersion:
    """A model serving decisions from `valid_from` (None: none could be fitted, `reason`)."""

    valid_from: float
    model: WinProbabilityModel | None
    reason: str = ""
    training_points: int = 0


@dataclass(frozen=True)
class ModelSchedule:
    versions: tuple[ModelVersion, ...]

    @classmethod
    def fixed(cls, model: WinProbabilityModel) -> ModelSchedule:
        """One model for every decision: replaying recorded cycles as they were decided."""
        return cls((ModelVersion(-np.inf, model),))

    def segment_of(self, ts: np.ndarray) -> np.ndarray:
        """Index of the version serving each decision time (-1 before the first)."""
        starts = np.array([v.valid_from for v in self.versions], dtype=float)
        return np.searchsorted(starts, np.asarray(ts, dtype=float), side="right") - 1


def refit_times(start: float, end: float, every_s: float) -> list[float]:
    if every_s <= 0:
        raise ValueError(f"the refit cadence must be positive, not {every_s}")
    return [float(t) for t in np.arange(start, end, every_s)]


def walk_forward_models(
    training: HorizonQuotes,
    times: list[float],
    settings: ModelSettings,
    prior: CalibrationPrior,
    settlement_lag_s: float,
) -> ModelSchedule:
    """A model per refit time, each fitted on the markets settled before it."""
    settled_at = np.asarray(training.close_ts, dtype=float) + settlement_lag_s
    versions = []
    for refit in times:
        rows = np.flatnonzero(settled_at <= refit)
        model_id = f"wf-{datetime.fromtimestamp(refit, UTC):%Y%m%dT%H%M%S}"
        try:
            fitted = fit_model(_take(training, rows), settings, prior, model_id)
        except CalibrationFailed as failure:
            versions.append(ModelVersion(refit, None, failure.reason, len(rows)))
            continue
        versions.append(ModelVersion(refit, fitted.model, "", fitted.model.fit.n_train))
    return ModelSchedule(tuple(versions))


def _take(quotes: HorizonQuotes, rows: np.ndarray) -> HorizonQuotes:
    return HorizonQuotes(
        **{f.name: np.asarray(getattr(quotes, f.name))[rows] for f in fields(HorizonQuotes)}
    )
