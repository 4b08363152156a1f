"""Price levels: which prices a market accepts (`price_level_structure`, `price_ranges`).

Kalshi markets quote on a cent grid (`linear_cent`), on a tenth-of-a-cent grid everywhere
(`deci_cent`), or on tenths of a cent only in the tails below 10¢ and above 90¢
(`tapered_deci_cent`), which is where favourites trade. An order off its market's grid is
refused by the exchange, so every price we send is checked here first, and a maker order
rests one *tick* inside the ask, not one cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

LINEAR_CENT = "linear_cent"
TAPERED_DECI_CENT = "tapered_deci_cent"
DECI_CENT = "deci_cent"
ONE, ZERO = Decimal(1), Decimal(0)
CENT, DECI_CENT_STEP = Decimal("0.01"), Decimal("0.001")


class UnsupportedPriceLevels(ValueError):
    """A price structure we do not know: never trade a market whose grid is a guess."""


class OffTick(ValueError):
    """A price that is not on its market's grid: a bug on our side, caught before sending."""


@dataclass(frozen=True, slots=True)
class PriceRange:
    """Prices start, start + step, ... up to end, in dollars."""

    start: Decimal
    end: Decimal
    step: Decimal

    def contains(self, price: Decimal) -> bool:
        return self.start <= price <= self.end and (price - self.start) % self.step == 0

    def below(self, price: Decimal) -> Decimal | None:
        """The highest price of this range strictly below `price`."""
        if price <= self.start:
            return None
        top = min(price, self.end)
        steps = (top - self.start) // self.step
        candidate = self.start + steps * self.step
        if candidate >= price:
            candidate -= self.step
        return candidate if candidate >= self.start else None

    def above(self, price: Decimal) -> Decimal | None:
        """The lowest price of this range strictly above `price`."""
        if price >= self.end:
            return None
        if price < self.start:
            return self.start
        steps = (price - self.start) // self.step + 1
        candidate = self.start + steps * self.step
        return candidate if candidate <= self.end else None


STANDARD_RANGES: dict[str, tuple[PriceRange, ...]] = {
    LINEAR_CENT: (PriceRange(ZERO, ONE, CENT),),
    DECI_CENT: (PriceRange(ZERO, ONE, DECI_CENT_STEP),),
    TAPERED_DECI_CENT: (
        PriceRange(ZERO, Decimal("0.10"), DECI_CENT_STEP),
        PriceRange(Decimal("0.10"), Decimal("0.90"), CENT),
        PriceRange(Decimal("0.90"), ONE, DECI_CENT_STEP),
    ),
}


@dataclass(frozen=True, slots=True)
class PriceLevels:
    """A market's price grid. Orderable prices lie strictly between 0 and 1."""

    structure: str
    ranges: tuple[PriceRange, ...]

    @classmethod
    def of(cls, structure: str | None, ranges: tuple[PriceRange, ...] = ()) -> PriceLevels:
        """The grid a market publishes; a market that publishes none is on the cent grid.

        The published ranges win (Kalshi advises reading them rather than the label), but a
        label we do not know is refused even with ranges: its meaning may go beyond them.
        """
        label = structure or LINEAR_CENT
        if label not in STANDARD_RANGES:
            raise UnsupportedPriceLevels(f"price_level_structure {label!r} is not supported")
        return cls(label, ranges or STANDARD_RANGES[label])

    def is_on_tick(self, price: Decimal) -> bool:
        return ZERO < price < ONE and any(r.contains(price) for r in self.ranges)

    def tick_at(self, price: Decimal) -> Decimal:
        """The grid step at `price` (the finer one where two ranges meet)."""
        steps = [r.step for r in self.ranges if r.start <= price <= r.end]
        if not steps:
            raise OffTick(f"price {price} lies outside every price range")
        return min(steps)

    def require_on_tick(self, price: Decimal) -> Decimal:
        if not self.is_on_tick(price):
            raise OffTick(
                f"price {price} is off the {self.structure} grid (tick {self.tick_at(price)})"
            )
        return price

    def tick_below(self, price: Decimal) -> Decimal | None:
        """The highest orderable price strictly below `price` (a maker's price one tick
        inside an ask), None if there is none."""
        candidates = [p for r in self.ranges if (p := r.below(price)) is not None and p > ZERO]
        return max(candidates, default=None)

    def tick_above(self, price: Decimal) -> Decimal | None:
        candidates = [p for r in self.ranges if (p := r.above(price)) is not None and p < ONE]
        return min(candidates, default=None)

    def floor(self, price: Decimal) -> Decimal | None:
        """`price` if orderable, else the highest orderable price below it."""
        return price if self.is_on_tick(price) else self.tick_below(price)

    def as_text(self) -> str:
        """A compact, exact text form (`from_text` reads it back): the label alone when the
        ranges are the label's standard ones."""
        if self.ranges == STANDARD_RANGES[self.structure]:
            return self.structure
        ranges = ",".join(f"{r.start}:{r.end}:{r.step}" for r in self.ranges)
        return f"{self.structure}|{ranges}"

    @classmethod
    def from_text(cls, text: str | None) -> PriceLevels | None:
        """The grid `as_text` wrote; None (no grid we support) for an unknown label."""
        label, _, ranges = (text or LINEAR_CENT).partition("|")
        parsed = tuple(
            PriceRange(*(Decimal(part) for part in item.split(":")))
            for item in ranges.split(",")
            if item
        )
        try:
            return cls.of(label, parsed)
        except UnsupportedPriceLevels:
            return None


LINEAR = PriceLevels.of(LINEAR_CENT)
