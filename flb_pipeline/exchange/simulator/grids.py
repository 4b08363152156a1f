"""Price grids in mills: which prices a market quotes and accepts.

The exact grid rules live in `core.ticks` (the client checks every price it sends against
them); here each structure becomes a sorted array of its orderable prices in mills, so quotes
of whole events can be snapped to the grid in one vectorised step.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.core.ticks import DECI_CENT, LINEAR_CENT, STANDARD_RANGES, TAPERED_DECI_CENT
from flb_pipeline.exchange.simulator.units import MILLS_PER_DOLLAR, dollars_to_mills, price_text

STRUCTURES = (LINEAR_CENT, TAPERED_DECI_CENT, DECI_CENT)
"""Index = the structure code stored per market."""
NO_BID = 0
NO_ASK = MILLS_PER_DOLLAR


@cache
def grid(structure: str) -> NDArray[np.int16]:
    """Every orderable price of `structure`, ascending, strictly between 0 and $1."""
    prices: set[int] = set()
    for price_range in STANDARD_RANGES[structure]:
        start, end = dollars_to_mills(price_range.start), dollars_to_mills(price_range.end)
        prices.update(range(start, end + 1, dollars_to_mills(price_range.step)))
    return np.array(sorted(p for p in prices if 0 < p < MILLS_PER_DOLLAR), dtype=np.int16)


def price_ranges_json(structure: str) -> list[dict[str, str]]:
    """The market's `price_ranges` as Kalshi lists them."""
    return [
        {
            "start": price_text(dollars_to_mills(r.start)),
            "end": price_text(dollars_to_mills(r.end)),
            "step": price_text(dollars_to_mills(r.step)),
        }
        for r in STANDARD_RANGES[structure]
    ]


def snap(structure: str, mills: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index in `grid(structure)` of the grid price nearest to each of `mills`."""
    prices = grid(structure).astype(np.float64)
    upper = np.clip(np.searchsorted(prices, mills), 1, len(prices) - 1)
    lower = upper - 1
    nearer_lower = (mills - prices[lower]) <= (prices[upper] - mills)
    return np.where(nearer_lower, lower, upper)


def quotes_on_grid(
    structure: str, fair: NDArray[np.float64], spread_mills: NDArray[np.int64]
) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """YES bid and ask around `fair` (probabilities, markets x ticks) on the market's grid.

    The bid is the grid price nearest `fair - spread/2`, the ask the nearest to
    `fair + spread/2` but at least one tick above the bid. A side that would leave the grid
    is empty: bid 0 / ask $1, as Kalshi shows it.
    """
    prices = grid(structure)
    centre = fair * MILLS_PER_DOLLAR
    half = spread_mills[:, None] / 2.0
    low, high = prices[0], prices[-1]
    has_bid = centre - half >= low - 0.5 * (prices[1] - low)
    has_ask = centre + half <= high + 0.5 * (high - prices[-2])
    bid_index = snap(structure, centre - half)
    ask_index = snap(structure, centre + half)
    ask_index = np.where(has_bid, np.maximum(ask_index, bid_index + 1), ask_index)
    has_ask &= ask_index < len(prices)
    ask_index = np.minimum(ask_index, len(prices) - 1)
    bid = np.where(has_bid, prices[bid_index], NO_BID)
    ask = np.where(has_ask, prices[ask_index], NO_ASK)
    return bid.astype(np.int16), ask.astype(np.int16)


def step_below(structure: str, mills: int, steps: int = 1) -> int:
    """The grid price `steps` ticks below `mills` (0 when the grid runs out)."""
    prices = grid(structure)
    index = int(np.searchsorted(prices, mills)) - steps
    return int(prices[index]) if index >= 0 else NO_BID


def is_on_grid(structure: str, mills: int) -> bool:
    prices = grid(structure)
    index = int(np.searchsorted(prices, mills))
    return index < len(prices) and int(prices[index]) == mills
