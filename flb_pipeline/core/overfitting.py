"""Overfitting controls for a threshold search: PBO by CSCV, the deflated Sharpe ratio and a
block bootstrap by day and event.

- Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu, "The Probability
  of Backtest Overfitting", 2017), by combinatorially symmetric cross-validation: the P&L
  periods are cut into S blocks; for every way of taking half of them as in-sample, the
  in-sample best strategy is located in the out-of-sample ranking. PBO is the share of splits
  in which it lands at or below the median. With skill-less strategies it is about 0.5; with
  one strategy that truly dominates it goes to 0.
- Deflated Sharpe ratio (Bailey & López de Prado, "The Deflated Sharpe Ratio", 2014): the
  probability that the true Sharpe ratio of the chosen strategy exceeds the Sharpe ratio the
  best of N skill-less trials would show by chance, corrected for skew, fat tails and length.
- Block bootstrap: a trade's P&L is not independent of the others of its event (brackets of
  one event are mutually exclusive) or of its day, so whole days are resampled and, within
  each drawn day, whole events.

Every figure that cannot be computed is `None` with the reason kept by the caller, never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

EULER_MASCHERONI = 0.5772156649015329
MAX_CSCV_BLOCKS = 16
MIN_CSCV_BLOCKS = 4
MIN_BOOTSTRAP_EVENTS = 10


@dataclass(frozen=True, slots=True)
class OverfittingProbability:
    """PBO and the logits it is the share of (λ ≤ 0), one per in-/out-of-sample split."""

    pbo: float
    logits: np.ndarray
    blocks: int
    splits: int


def cscv_blocks(periods: int) -> int | None:
    """The even number of blocks CSCV cuts `periods` into: as many as allowed up to 16 (12,870
    splits), None when fewer than 4 periods leave no meaningful split."""
    blocks = min(MAX_CSCV_BLOCKS, periods - periods % 2)
    return blocks if blocks >= MIN_CSCV_BLOCKS else None


def probability_of_overfitting(performance: np.ndarray) -> OverfittingProbability | None:
    """PBO of choosing the best column of `performance` (periods × strategies, P&L per period)
    by its Sharpe ratio. None with fewer than 2 strategies or 4 periods.

    Ties are honest: the in-sample best is the first of equals, and its out-of-sample rank is
    the average rank of its ties, so strategies that cannot be told apart (all flat, all the
    same) sit at the median, which PBO counts against the choice: nothing was learnt.
    """
    matrix = np.asarray(performance, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        return None
    blocks = cscv_blocks(matrix.shape[0])
    if blocks is None:
        return None
    parts = np.array_split(np.arange(matrix.shape[0]), blocks)
    sums = np.array([matrix[rows].sum(axis=0) for rows in parts])
    squares = np.array([(matrix[rows] ** 2).sum(axis=0) for rows in parts])
    counts = np.array([len(rows) for rows in parts], dtype=float)
    in_sample = np.zeros((math.comb(blocks, blocks // 2), blocks), dtype=float)
    for row, chosen in enumerate(combinations(range(blocks), blocks // 2)):
        in_sample[row, list(chosen)] = 1.0
    is_sharpe = _sharpe(in_sample @ sums, in_sample @ squares, in_sample @ counts)
    oos = 1.0 - in_sample
    oos_sharpe = _sharpe(oos @ sums, oos @ squares, oos @ counts)
    best = np.argmax(is_sharpe, axis=1)
    ranks = stats.rankdata(oos_sharpe, axis=1)
    relative = ranks[np.arange(len(best)), best] / (matrix.shape[1] + 1)
    logits = np.log(relative / (1 - relative))
    return OverfittingProbability(float(np.mean(logits <= 0)), logits, blocks, len(logits))


def _sharpe(sums: np.ndarray, squares: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-period Sharpe of each (split, strategy) from its sums; 0 where it has no variation
    (a strategy that never traded is neither good nor bad)."""
    n = counts[:, None]
    mean = sums / n
    variance = np.maximum(squares - n * mean**2, 0.0) / np.maximum(n - 1, 1)
    deviation = np.sqrt(variance)
    scale = np.maximum(np.abs(mean), 1.0) * 1e-12
    return np.divide(mean, deviation, out=np.zeros_like(mean), where=deviation > scale)


def expected_maximum_sharpe(trials: int, sharpe_variance: float) -> float:
    """E[max SR] of `trials` skill-less strategies whose Sharpe ratios vary with
    `sharpe_variance` (the false strategy theorem)."""
    if trials < 2:
        return 0.0
    spread = math.sqrt(max(sharpe_variance, 0.0))
    first = stats.norm.ppf(1 - 1 / trials)
    second = stats.norm.ppf(1 - 1 / (trials * math.e))
    return spread * ((1 - EULER_MASCHERONI) * first + EULER_MASCHERONI * second)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, observations: int, skewness: float, kurtosis: float
) -> float | None:
    """P(true SR > benchmark) given the observed per-period SR over `observations` periods;
    `kurtosis` is the plain (not excess) fourth moment, 3 for normal returns."""
    if observations < 2:
        return None
    variance = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not variance > 0:
        return None
    z = (sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(variance)
    return float(stats.norm.cdf(z))


def deflated_sharpe_ratio(
    returns: np.ndarray, trials: int, trial_sharpe_variance: float
) -> float | None:
    """DSR of the chosen strategy's per-period `returns`, after `trials` strategies were tried
    whose per-period Sharpe ratios had variance `trial_sharpe_variance`."""
    values = np.asarray(returns, dtype=float)
    if len(values) < 3 or not np.std(values, ddof=1) > 0:
        return None
    sharpe = float(np.mean(values) / np.std(values, ddof=1))
    skewness = float(stats.skew(values))
    kurtosis = float(stats.kurtosis(values, fisher=False))
    benchmark = expected_maximum_sharpe(trials, trial_sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, benchmark, len(values), skewness, kurtosis)


@dataclass(frozen=True, slots=True)
class BootstrapInterval:
    estimate: float
    low: float
    high: float
    days: int
    events: int


def day_event_bootstrap(
    numerator: np.ndarray,
    day: np.ndarray,
    event: np.ndarray,
    *,
    denominator: np.ndarray | None = None,
    scale: float = 1.0,
    resamples: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval | None:
    """Percentile CI of Σ numerator / Σ denominator (× `scale`; without a denominator, of
    Σ numerator × scale) resampling whole days, then whole events within each drawn day.

    None with fewer than 10 events: a CI on a handful of blocks would look precise and be
    nothing of the kind.
    """
    events, event_code = np.unique(np.asarray(event, dtype=object), return_inverse=True)
    if len(events) < MIN_BOOTSTRAP_EVENTS:
        return None
    top = np.bincount(event_code, np.asarray(numerator, dtype=float), len(events))
    bottom = (
        np.bincount(event_code, np.asarray(denominator, dtype=float), len(events))
        if denominator is not None
        else None
    )
    event_day = np.zeros(len(events), dtype=object)
    event_day[event_code] = np.asarray(day, dtype=object)
    days, day_of_event = np.unique(event_day, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws_of_day = rng.multinomial(len(days), np.full(len(days), 1 / len(days)), size=resamples)
    sums = np.zeros(resamples)
    weights = np.zeros(resamples)
    for index in range(len(days)):
        members = np.flatnonzero(day_of_event == index)
        picks = rng.multinomial(
            draws_of_day[:, index] * len(members), np.full(len(members), 1 / len(members))
        )
        sums += picks @ top[members]
        if bottom is not None:
            weights += picks @ bottom[members]
    estimate = _ratio(top.sum(), bottom.sum() if bottom is not None else None) * scale
    statistic = _ratios(sums, weights if bottom is not None else None) * scale
    finite = statistic[np.isfinite(statistic)]
    if len(finite) == 0 or not math.isfinite(estimate):
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return BootstrapInterval(estimate, float(low), float(high), len(days), len(events))


def _ratio(top: float, bottom: float | None) -> float:
    if bottom is None:
        return float(top)
    return float(top / bottom) if bottom else math.nan


def _ratios(top: np.ndarray, bottom: np.ndarray | None) -> np.ndarray:
    if bottom is None:
        return top
    return np.divide(top, bottom, out=np.full_like(top, np.nan), where=bottom != 0)
