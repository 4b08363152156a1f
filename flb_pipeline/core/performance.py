"""Risk-adjusted performance of a P&L series: Sharpe, Sortino and drawdown.

Prediction markets settle every day of the week, so daily figures are annualised with 365
periods, not the 252 trading days of an equity desk. A ratio that is undefined (fewer than two
periods, no variation, no losing period) is `None`, never NaN or infinity: a report must not
show a figure computed on nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365


def sharpe_ratio(returns: np.ndarray, periods_per_year: float = DAYS_PER_YEAR) -> float | None:
    """Mean over standard deviation (n − 1) of per-period returns, annualised."""
    values = np.asarray(returns, dtype=float)
    if len(values) < 2:
        return None
    deviation = float(np.std(values, ddof=1))
    if not deviation > 0:
        return None
    return float(np.mean(values)) / deviation * math.sqrt(periods_per_year)


def sortino_ratio(returns: np.ndarray, periods_per_year: float = DAYS_PER_YEAR) -> float | None:
    """Mean over the downside deviation (root mean square of the losing part, zero target),
    annualised: losses, not upside swings, count as risk."""
    values = np.asarray(returns, dtype=float)
    if len(values) < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(values, 0.0) ** 2)))
    if not downside > 0:
        return None
    return float(np.mean(values)) / downside * math.sqrt(periods_per_year)


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall of an equity curve from a previous peak: in money and as a fraction
    of that peak (0 when the curve never falls)."""

    amount: float
    fraction: float


def drawdown_curve(equity: np.ndarray) -> np.ndarray:
    """Fall below the running peak at each point (≥ 0, in money)."""
    values = np.asarray(equity, dtype=float)
    return np.maximum.accumulate(values) - values if len(values) else values


def max_drawdown(equity: np.ndarray) -> Drawdown:
    values = np.asarray(equity, dtype=float)
    if len(values) == 0:
        return Drawdown(0.0, 0.0)
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    fractions = np.divide(falls, peaks, out=np.zeros_like(falls), where=peaks > 0)
    return Drawdown(float(falls.max()), float(fractions.max()))
