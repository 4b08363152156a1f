"""Training points: each settled market's YES mid at several horizons before its close.

For every (market, horizon) the price is the close of the last candle at or before
`close − horizon`, used only when the market was already open then and that candle is
recent (within the tolerance) and two-sided. A gap in the candles or a one-sided book is
skipped and counted per horizon, never interpolated: a made-up price would teach the model a
calibration no market ever showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flb_pipeline.core.calibration import CalibrationSample


@dataclass(frozen=True, slots=True)
class PriceTolerance:
    """How old a candle may be at the moment it prices: a share of the horizon, at least
    `min_s` (a 14-day horizon can use an hourly candle, a 5-minute one cannot)."""

    fraction: float = 0.1
    min_s: float = 120.0

    def __post_init__(self) -> None:
        if self.fraction < 0 or self.min_s < 0:
            raise ValueError(f"tolerances must be >= 0: {self}")

    def seconds(self, horizon_s: np.ndarray) -> np.ndarray:
        return np.maximum(self.min_s, self.fraction * np.asarray(horizon_s, dtype=float))


@dataclass(frozen=True, slots=True, eq=False)
class HorizonQuotes:
    """One row per (settled market, horizon): the market, and the last candle at or before
    `close − horizon` (NaN candle time when there is none, NaN bid/ask when a side is
    missing). Times are epoch seconds."""

    event: np.ndarray
    family: np.ndarray
    outcome: np.ndarray
    open_ts: np.ndarray
    close_ts: np.ndarray
    horizon_s: np.ndarray
    candle_ts: np.ndarray
    yes_bid: np.ndarray
    yes_ask: np.ndarray


@dataclass(frozen=True, slots=True)
class HorizonCount:
    """What one horizon gave: markets open that long before close, points used, and the
    points skipped for a gap in the candles or a candle without both sides."""

    horizon_s: float
    markets: int
    used: int
    gaps: int
    missing_prices: int


def horizon_points(
    quotes: HorizonQuotes, horizons_s: Sequence[float], tolerance: PriceTolerance
) -> tuple[CalibrationSample, list[HorizonCount]]:
    """The usable points (their time to close is that of the candle, not the nominal
    horizon) and the per-horizon counts, in the order of `horizons_s`."""
    horizon = np.asarray(quotes.horizon_s, dtype=float)
    candle = np.asarray(quotes.candle_ts, dtype=float)
    bid = np.asarray(quotes.yes_bid, dtype=float)
    ask = np.asarray(quotes.yes_ask, dtype=float)
    close = np.asarray(quotes.close_ts, dtype=float)
    priced_at = close - horizon
    alive = np.asarray(quotes.open_ts, dtype=float) <= priced_at
    recent = candle >= priced_at - tolerance.seconds(horizon)  # NaN candle: False
    gap = alive & ~recent
    two_sided = np.isfinite(bid) & np.isfinite(ask)
    missing = alive & recent & ~two_sided
    used = alive & recent & two_sided
    counts = [
        HorizonCount(
            horizon_s=float(h),
            markets=int(np.sum(alive & (horizon == h))),
            used=int(np.sum(used & (horizon == h))),
            gaps=int(np.sum(gap & (horizon == h))),
            missing_prices=int(np.sum(missing & (horizon == h))),
        )
        for h in horizons_s
    ]
    sample = CalibrationSample(
        price=(bid[used] + ask[used]) / 2,
        outcome=np.asarray(quotes.outcome)[used],
        family=np.asarray(quotes.family, dtype=object)[used],
        close_ts=close[used],
        event=np.asarray(quotes.event, dtype=object)[used],
        seconds_to_close=close[used] - candle[used],
        yes_bid=bid[used],
        yes_ask=ask[used],
    )
    return sample, counts
