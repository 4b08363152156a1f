"""Kalshi fee schedule (DESIGN §5.1), exact to the cent.

Trading fees are charged on every fill, win or lose, rounded *up* to the cent per order; there
is no settlement fee. Kalshi keeps a per-order accumulator so an order filled in several pieces
pays what one equivalent fill would: `order_fill_fees` reproduces that, so the exchange
simulator and our own ledger agree to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from flb_pipeline.core.records import SeriesInfo

CENT = Decimal("0.01")
TAKER_RATE = Decimal("0.07")
MAKER_RATE = Decimal("0.0175")
WINNINGS_RATE = Decimal("0.07")
QUADRATIC = "quadratic"
QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
SUPPORTED_FEE_TYPES = frozenset({QUADRATIC, QUADRATIC_WITH_MAKER_FEES})


class UnsupportedFeeType(ValueError):
    """A series whose fee model we cannot price exactly: never trade it on a guess."""


def ceil_to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def _quadratic(rate: Decimal, multiplier: Decimal, contracts: int, price: Decimal) -> Decimal:
    """Unrounded `rate × multiplier × C × P × (1 − P)`."""
    return rate * multiplier * contracts * price * (1 - price)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A series' fee model as published by `GET /series` (`fee_type`, `fee_multiplier`)."""

    fee_type: str = QUADRATIC
    multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.fee_type not in SUPPORTED_FEE_TYPES:
            raise UnsupportedFeeType(f"fee_type {self.fee_type!r} is not priced by this system")

    def raw_fee(self, contracts: int, price: Decimal, *, is_taker: bool) -> Decimal:
        """The fee before rounding; makers pay only on `quadratic_with_maker_fees` series."""
        if is_taker:
            return _quadratic(TAKER_RATE, self.multiplier, contracts, price)
        if self.fee_type == QUADRATIC_WITH_MAKER_FEES:
            return _quadratic(MAKER_RATE, self.multiplier, contracts, price)
        return Decimal(0)

    def taker_fee(self, contracts: int, price: Decimal) -> Decimal:
        """Fee for an order of `contracts` that takes liquidity at `price` dollars."""
        return ceil_to_cent(self.raw_fee(contracts, price, is_taker=True))

    def maker_fee(self, contracts: int, price: Decimal) -> Decimal:
        """Fee for a resting order of `contracts` filled at `price` dollars."""
        return ceil_to_cent(self.raw_fee(contracts, price, is_taker=False))

    def order_fill_fees(self, fills: Iterable[tuple[int, Decimal, bool]]) -> list[Decimal]:
        """Per-fill fees of one order, `(contracts, price, is_taker)` in fill order.

        Each fill pays the increase of the rounded cumulative fee, so the order's total is
        `ceil_to_cent(Σ raw fees)`: the same as one fill of the whole order at one price.
        """
        charged: list[Decimal] = []
        raw_total = Decimal(0)
        rounded_total = Decimal(0)
        for contracts, price, is_taker in fills:
            raw_total += self.raw_fee(contracts, price, is_taker=is_taker)
            new_total = ceil_to_cent(raw_total)
            charged.append(new_total - rounded_total)
            rounded_total = new_total
        return charged


def taker_fee(contracts: int, price: Decimal, multiplier: Decimal = Decimal(1)) -> Decimal:
    """Taker fee on a plain quadratic series: `ceil_to_cent(0.07 × m × C × P × (1 − P))`."""
    return FeeSchedule(QUADRATIC, multiplier).taker_fee(contracts, price)


def winnings_fee(contracts: int, price: Decimal) -> Decimal:
    """The older "7% of winnings" model, for comparison only: paid only if the contract wins."""
    return ceil_to_cent(WINNINGS_RATE * contracts * (1 - price))


def schedules_of(series: Mapping[str, SeriesInfo]) -> dict[str, FeeSchedule | None]:
    """Each series' fee schedule; None where its fee model is one we cannot price exactly."""
    schedules: dict[str, FeeSchedule | None] = {}
    for ticker, info in series.items():
        try:
            schedules[ticker] = FeeSchedule(info.fee_type, info.fee_multiplier)
        except UnsupportedFeeType:
            schedules[ticker] = None
    return schedules


def schedule_for(schedules: Mapping[str, FeeSchedule | None], series_ticker: str) -> FeeSchedule:
    """The series' schedule, else Kalshi's standard one: for charging or bounding a fee that
    must exist (a fill, a resting order), never for deciding to trade."""
    return schedules.get(series_ticker) or FeeSchedule()
