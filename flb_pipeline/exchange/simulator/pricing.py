"""From a latent path to true probabilities, FLB-distorted quotes and background trades.

All functions are pure and vectorised over (markets of one event) x (trading ticks), so a whole
event's market data is computed once, when it is listed, and later reads are array lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit, ndtr

from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID

_PROBABILITY_FLOOR = 1e-9
_TRADE_PROBABILITY = 0.35
_MAX_TRADE_SIZE = 60


def true_probability(
    path: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64], sigma: float
) -> NDArray[np.float64]:
    """P(lo <= X_close < hi | X_t) for each market (rows) at each trading tick (columns).

    `path` holds X at ticks open..close; the variance still to come at tick t is
    sigma^2 * (close - t) / lifetime, so the probability collapses onto the outcome at close.
    """
    lifetime = len(path) - 1
    remaining = sigma * np.sqrt((lifetime - np.arange(lifetime)) / lifetime)
    now = path[:lifetime]
    upper = ndtr((hi[:, None] - now) / remaining)
    lower = ndtr((lo[:, None] - now) / remaining)
    return upper - lower


def flb_price(p_true: NDArray[np.float64], slope: float, intercept: float) -> NDArray[np.float64]:
    """Invert logit(p_true) = a + b*logit(p_market): with b > 1 favourites trade too cheap."""
    clipped = np.clip(p_true, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    return expit((logit(clipped) - intercept) / slope)


@dataclass(frozen=True, slots=True)
class TradeTape:
    """Background trades per market and tick: at most one print per tick, YES price in mills."""

    count: NDArray[np.int32]
    yes_price: NDArray[np.int16]
    volume: NDArray[np.int64]
    last_price: NDArray[np.int16]


def background_trades(
    rng: np.random.Generator, bid: NDArray[np.int16], ask: NDArray[np.int16]
) -> TradeTape:
    """Other participants' trades: takers lift the ask or hit the bid at random ticks."""
    shape = bid.shape
    happens = rng.random(shape) < _TRADE_PROBABILITY
    lifts_ask = rng.random(shape) < 0.5
    size = rng.integers(1, _MAX_TRADE_SIZE + 1, size=shape)
    yes_price = np.where(lifts_ask, ask, bid).astype(np.int16)
    happens &= np.where(lifts_ask, ask < NO_ASK, bid > NO_BID)
    count = np.where(happens, size, 0).astype(np.int32)
    return TradeTape(
        count,
        np.where(happens, yes_price, 0).astype(np.int16),
        np.cumsum(count, axis=1),
        _forward_fill(yes_price, happens),
    )


def _forward_fill(values: NDArray[np.int16], present: NDArray[np.bool_]) -> NDArray[np.int16]:
    """Last traded price at each tick (0 before the first trade)."""
    columns = np.arange(values.shape[1])
    last_seen = np.maximum.accumulate(np.where(present, columns, -1), axis=1)
    filled = np.take_along_axis(values, np.maximum(last_seen, 0), axis=1)
    return np.where(last_seen >= 0, filled, 0).astype(np.int16)
