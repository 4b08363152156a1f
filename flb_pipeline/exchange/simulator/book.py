"""Order books and taker matching.

Kalshi publishes bids only: YES bids and NO bids. A NO bid at p is a YES ask at $1 - p, so
buying YES sweeps the NO bids and buying NO sweeps the YES bids. Every order is handled as a
buy of some side (an ask on the YES book at p is a buy of NO at $1 - p), which keeps one
matching path. Prices are mills on the market's grid; levels step down the grid, so a
tapered market's book is a tenth of a cent apart in the tails and a cent apart in between.

Depth sizes come from a counter-based hash of (seed, market, tick, side, level): deterministic,
free to recompute, and independent of which books were looked at before. Depth a taker
consumed stays consumed until the next quote tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from flb_pipeline.core.records import Side, other_side
from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID, grid
from flb_pipeline.exchange.simulator.units import ONE_DOLLAR_MILLS

Level = tuple[int, Decimal]
"""(price in mills, contracts)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _splitmix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a well-mixed uint64 for every uint64 input."""
    mixed = values * _GOLDEN
    mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX_1
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_2
    return mixed ^ (mixed >> np.uint64(31))


def level_sizes(
    seed: int, market: int, tick: int, levels: int, size_min: int, size_max: int
) -> np.ndarray:
    """Displayed contracts per level, shape (2, levels): row 0 YES bids, row 1 NO bids."""
    slots = np.arange(2 * levels, dtype=np.uint64)
    key = np.uint64(seed) * np.uint64(1_000_003) + np.uint64(market) * np.uint64(2 * levels)
    key = _splitmix(np.atleast_1d(key + np.uint64(tick & 0xFFFFFFFF) * np.uint64(7_919)))
    sizes = size_min + _splitmix(key ^ slots) % np.uint64(size_max - size_min + 1)
    return sizes.astype(np.int64).reshape(2, levels)


def top_sizes(
    seed: int, markets: np.ndarray, tick: int, levels: int, size_min: int, size_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """(YES bid size, YES ask size) at the top of many books at once: the first level of
    each side of `level_sizes`, computed for a whole listing page in one pass."""
    key = np.uint64(seed) * np.uint64(1_000_003) + markets.astype(np.uint64) * np.uint64(2 * levels)
    key = _splitmix(key + np.uint64(tick & 0xFFFFFFFF) * np.uint64(7_919))
    spread = np.uint64(size_max - size_min + 1)
    yes_bid = size_min + _splitmix(key ^ np.uint64(0)) % spread
    no_bid = size_min + _splitmix(key ^ np.uint64(levels)) % spread
    return yes_bid.astype(np.int64), no_bid.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Book:
    """Resting bids of one market at one quote tick, best (highest) price first."""

    yes: tuple[Level, ...]
    no: tuple[Level, ...]

    def bids(self, side: Side) -> tuple[Level, ...]:
        return self.yes if side == "yes" else self.no

    def asks(self, side: Side) -> tuple[Level, ...]:
        """Offers to buy `side`, cheapest first: the other side's bids mirrored."""
        return tuple(
            (ONE_DOLLAR_MILLS - price, size) for price, size in self.bids(other_side(side))
        )

    def best_bid(self, side: Side) -> int:
        levels = self.bids(side)
        return levels[0][0] if levels else NO_BID

    def best_ask(self, side: Side) -> int:
        levels = self.bids(other_side(side))
        return ONE_DOLLAR_MILLS - levels[0][0] if levels else NO_ASK

    def size_at(self, side: Side, price: int) -> Decimal:
        """Contracts bid for `side` at exactly `price` (the queue a new bid there joins)."""
        return next((size for level, size in self.bids(side) if level == price), Decimal(0))


Consumed = dict[tuple[Side, int], Decimal]


def build_book(
    structure: str, yes_bid: int, yes_ask: int, sizes: np.ndarray, consumed: Consumed
) -> Book:
    """The book around a top of book, with depth consumed this tick taken out."""
    no_bid = ONE_DOLLAR_MILLS - yes_ask if yes_ask < NO_ASK else NO_BID
    return Book(
        yes=_levels(structure, "yes", yes_bid, sizes[0], consumed),
        no=_levels(structure, "no", no_bid, sizes[1], consumed),
    )


def _levels(
    structure: str, side: Side, best: int, sizes: np.ndarray, consumed: Consumed
) -> tuple[Level, ...]:
    if best == NO_BID:
        return ()
    prices = grid(structure)
    top = int(np.searchsorted(prices, best))
    levels = []
    for depth, size in enumerate(sizes.tolist()):
        if top - depth < 0:
            break
        price = int(prices[top - depth])
        left = size - consumed.get((side, price), Decimal(0))
        if left > 0:
            levels.append((price, Decimal(left)))
    return tuple(levels)


def shifted(asks: tuple[Level, ...], mills: int) -> tuple[Level, ...]:
    """The asks after the market moved `mills` against the taker (levels past $1 vanish)."""
    return tuple((price + mills, size) for price, size in asks if price + mills < ONE_DOLLAR_MILLS)


def sweep(asks: tuple[Level, ...], limit: int, quantity: Decimal) -> list[Level]:
    """Take asks cheapest first while price <= limit, up to `quantity` contracts."""
    taken: list[Level] = []
    for price, size in asks:
        if price > limit or quantity <= 0:
            break
        count = min(size, quantity)
        taken.append((price, count))
        quantity -= count
    return taken


class DepthLedger:
    """Contracts taken out of displayed levels during the current quote tick."""

    def __init__(self) -> None:
        self._tick: int | None = None
        self._consumed: dict[int, Consumed] = {}

    def for_market(self, market: int, tick: int) -> Consumed:
        """Consumption of `market` at `tick`; a new tick starts from a full book."""
        if tick != self._tick:
            self._tick = tick
            self._consumed = {}
        return self._consumed.get(market, {})

    def consume(self, market: int, tick: int, side: Side, price: int, count: Decimal) -> None:
        """Record that `count` contracts of the `side` bid at `price` were taken."""
        self.for_market(market, tick)
        levels = self._consumed.setdefault(market, {})
        levels[(side, price)] = levels.get((side, price), Decimal(0)) + count

    def touched_markets(self, tick: int) -> set[int]:
        return set(self._consumed) if tick == self._tick else set()
