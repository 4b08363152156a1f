"""Drawing one event: its latent path, strike layout and complete market data.

Each event has its own generator seeded by (seed, family, stream, number), so what an event
looks like never depends on which other events were drawn before it or when.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.catalog import (
    FamilySpec,
    MarketSet,
    SeriesSpec,
    centre_for,
    market_sets,
)
from flb_pipeline.exchange.simulator.config import SimConfig
from flb_pipeline.exchange.simulator.grids import quotes_on_grid
from flb_pipeline.exchange.simulator.pricing import (
    TradeTape,
    background_trades,
    flb_price,
    true_probability,
)
from flb_pipeline.exchange.simulator.schedule import EventSlot
from flb_pipeline.exchange.simulator.units import MILLS_PER_CENT


@dataclass(frozen=True, slots=True)
class EventDraw:
    """Everything random about one event; market rows x trading-tick columns."""

    series: SeriesSpec
    path: NDArray[np.float64]
    sets: list[MarketSet]
    teams: tuple[str, ...]
    p_true: NDArray[np.float64]
    bid: NDArray[np.int16]
    ask: NDArray[np.int16]
    trades: TradeTape

    @property
    def outcomes(self) -> NDArray[np.bool_]:
        """YES for each market whose set holds the latent value at close."""
        final = self.path[-1]
        return np.array([s.lo <= final < s.hi for s in self.sets])


def draw_event(
    config: SimConfig, family: FamilySpec, slot: EventSlot, lifetime_ticks: int
) -> EventDraw:
    """A Brownian latent from open to close, the markets around its start, their data."""
    series = family.series[slot.number % len(family.series)]
    rng = np.random.default_rng([config.seed, slot.family_index, slot.stream, slot.number])
    start = series.base + series.dispersion * rng.standard_normal()
    steps = rng.standard_normal(lifetime_ticks) * series.sigma / math.sqrt(lifetime_ticks)
    path = start + np.concatenate(([0.0], np.cumsum(steps)))
    teams = tuple(rng.permutation(series.teams)[:2]) if series.teams else ()
    sets = market_sets(family, series, centre_for(series, start), teams)
    spreads = rng.integers(config.spread_cents_min, config.spread_cents_max + 1, len(sets))
    lo = np.array([s.lo for s in sets])
    hi = np.array([s.hi for s in sets])
    p_true = true_probability(path, lo, hi, series.sigma)
    fair = flb_price(p_true, config.flb_slope, config.flb_intercept)
    bid, ask = quotes_on_grid(series.price_structure, fair, spreads * MILLS_PER_CENT)
    return EventDraw(series, path, sets, teams, p_true, bid, ask, background_trades(rng, bid, ask))
