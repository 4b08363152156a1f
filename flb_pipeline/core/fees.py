"""Kalshi fee schedule (DESIGN §5.1), exact as the exchange charges it.

Trading fees are charged on every fill, win or lose; there is no settlement fee. Each fill's
fee comes from the series' fee model, rounded *up* to $0.0001; the account's balance must
then stay a multiple of its precision ($0.01 for most members, $0.0001 for direct members),
so the exchange floors the balance change and charges the difference as a rounding fee. The
rounding overpaid on an order accumulates across its fills, and each time it exceeds a cent
a cent is rebated, so an order filled in pieces pays about what one fill would.
`order_fill_fees` reproduces that per order, so the simulator and our own ledger agree to
the last $0.0001.

Fee models: `quadratic` (takers pay 0.07·m·C·P·(1−P), makers nothing),
`quadratic_with_maker_fees` (makers pay a quarter of that) and
`quadratic_with_combo_maker_fees` (makers pay half). `flat` series use a published table we
do not have: they are recognised and never priced (`UnsupportedFeeType`), so never traded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from flb_pipeline.core.records import SeriesInfo

CENT = Decimal("0.01")
CENTICENT = Decimal("0.0001")
ACCOUNT_PRECISION = CENT
"""Balance precision of a member that is not a direct member of the exchange."""
TAKER_RATE = Decimal("0.07")
WINNINGS_RATE = Decimal("0.07")
QUADRATIC = "quadratic"
QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
FLAT = "flat"
MAKER_RATES = {
    QUADRATIC: Decimal(0),
    QUADRATIC_WITH_MAKER_FEES: Decimal("0.0175"),
    QUADRATIC_WITH_COMBO_MAKER_FEES: Decimal("0.035"),
}
SUPPORTED_FEE_TYPES = frozenset(MAKER_RATES)
KNOWN_FEE_TYPES = SUPPORTED_FEE_TYPES | {FLAT}
Count = int | Decimal


class UnsupportedFeeType(ValueError):
    """A series whose fee model we cannot price exactly: never trade it on a guess."""


def ceil_to(amount: Decimal, step: Decimal) -> Decimal:
    return amount.quantize(step, rounding=ROUND_CEILING)


def floor_to(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to_cent(amount: Decimal) -> Decimal:
    return ceil_to(amount, CENT)


@dataclass(frozen=True, slots=True)
class FeeLeg:
    """One fill of an order as the fee rule sees it."""

    contracts: Count
    price: Decimal
    is_taker: bool = True
    buying: bool = True

    @property
    def revenue(self) -> Decimal:
        """Cash the fill moves before fees: negative for a buyer."""
        amount = Decimal(self.contracts) * self.price
        return -amount if self.buying else amount


@dataclass(frozen=True, slots=True)
class FillFee:
    """A fill's fee components; the account is charged `net`."""

    trade_fee: Decimal
    rounding_fee: Decimal
    rebate: Decimal

    @property
    def net(self) -> Decimal:
        return self.trade_fee + self.rounding_fee - self.rebate


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A series' fee model as published by `GET /series` (`fee_type`, `fee_multiplier`);
    `waived` while a market's fee waiver runs."""

    fee_type: str = QUADRATIC
    multiplier: Decimal = Decimal(1)
    waived: bool = False

    def __post_init__(self) -> None:
        if self.fee_type not in SUPPORTED_FEE_TYPES:
            raise UnsupportedFeeType(f"fee_type {self.fee_type!r} is not priced by this system")

    def raw_fee(self, contracts: Count, price: Decimal, *, is_taker: bool) -> Decimal:
        """The fee model's fee before any rounding."""
        if self.waived:
            return Decimal(0)
        rate = TAKER_RATE if is_taker else MAKER_RATES[self.fee_type]
        return rate * self.multiplier * Decimal(contracts) * price * (1 - price)

    def trade_fee(self, leg: FeeLeg) -> Decimal:
        """The fee model's fee of one fill, rounded up to $0.0001."""
        return ceil_to(self.raw_fee(leg.contracts, leg.price, is_taker=leg.is_taker), CENTICENT)

    def taker_fee(
        self, contracts: Count, price: Decimal, precision: Decimal = ACCOUNT_PRECISION
    ) -> Decimal:
        """What buying `contracts` at `price` in one taker fill costs beyond contracts × price."""
        return _one_fill_fee(self, contracts, price, precision, True, str(contracts), str(price))

    def maker_fee(
        self, contracts: Count, price: Decimal, precision: Decimal = ACCOUNT_PRECISION
    ) -> Decimal:
        """The same for a resting order filled at `price` in one fill."""
        return _one_fill_fee(self, contracts, price, precision, False, str(contracts), str(price))

    def order_fill_fees(
        self, legs: Iterable[FeeLeg], precision: Decimal = ACCOUNT_PRECISION
    ) -> list[Decimal]:
        """Net fee of each fill of one order, in fill order (Kalshi's fee rounding)."""
        return [charge.net for charge in fill_fee_components(self.trade_fee, legs, precision)]


@functools.lru_cache(maxsize=65_536)
def _one_fill_fee(
    schedule: FeeSchedule,
    contracts: Count,
    price: Decimal,
    precision: Decimal,
    is_taker: bool,
    *spelling: str,
) -> Decimal:
    """One fill's net fee, cached: sizing prices the same few (count, price) pairs over and
    over (a binary search per cap, every cycle). `spelling` keys the cache on how the numbers
    are written too, so a cached fee is the very Decimal an uncached call would return."""
    return schedule.order_fill_fees([FeeLeg(contracts, price, is_taker)], precision)[0]


def fill_fee_components(
    trade_fee_of: Callable[[FeeLeg], Decimal],
    legs: Iterable[FeeLeg],
    precision: Decimal = ACCOUNT_PRECISION,
) -> list[FillFee]:
    """Kalshi's fee rounding over the fills of one order.

    Per fill: the balance change `revenue − trade fee` is floored to the account's
    precision and the difference charged as a rounding fee; the rounding accumulates over
    the order (taker and maker fills alike) and whenever it exceeds a cent, a cent is
    rebated. Separated from the fee model so the rule can be checked against Kalshi's own
    worked examples, whose trade fees are given rather than computed.
    """
    charges: list[FillFee] = []
    accumulated = Decimal(0)
    for leg in legs:
        trade_fee = trade_fee_of(leg)
        balance_change = leg.revenue - trade_fee
        rounding_fee = balance_change - floor_to(balance_change, precision)
        accumulated += rounding_fee
        rebate = Decimal(0)
        if accumulated > CENT:
            rebate, accumulated = CENT, accumulated - CENT
        charges.append(FillFee(trade_fee, rounding_fee, rebate))
    return charges


@dataclass(frozen=True, slots=True)
class FeeChange:
    """A fee model a series switches to at `scheduled_at` (`GET /series/fee_changes`)."""

    series_ticker: str
    fee_type: str
    multiplier: Decimal
    scheduled_at: datetime


def schedule_at(
    series_ticker: str,
    current: FeeSchedule | None,
    changes: Sequence[FeeChange],
    at: datetime,
    waiver_expires: datetime | None = None,
) -> FeeSchedule | None:
    """The fee model a fill in `series_ticker` pays at `at`: the latest scheduled change in
    force by then (else the series' current model), waived while the market's waiver runs.
    None when that model cannot be priced."""
    due = [c for c in changes if c.series_ticker == series_ticker and c.scheduled_at <= at]
    schedule = current
    if due:
        latest = max(due, key=lambda change: change.scheduled_at)
        schedule = _priced(latest.fee_type, latest.multiplier)
    if schedule is not None and waiver_expires is not None and at < waiver_expires:
        return replace(schedule, waived=True)
    return schedule


@dataclass(frozen=True)
class FeeBook:
    """Every series' current fee model and the changes scheduled for them: what a fill in
    a given market pays at a given moment."""

    schedules: Mapping[str, FeeSchedule | None]
    changes: Sequence[FeeChange] = ()

    def at(
        self, series_ticker: str, when: datetime, waiver_expires: datetime | None = None
    ) -> FeeSchedule | None:
        return schedule_at(
            series_ticker, self.schedules.get(series_ticker), self.changes, when, waiver_expires
        )


def _priced(fee_type: str, multiplier: Decimal) -> FeeSchedule | None:
    try:
        return FeeSchedule(fee_type, multiplier)
    except UnsupportedFeeType:
        return None


def taker_fee(contracts: Count, price: Decimal, multiplier: Decimal = Decimal(1)) -> Decimal:
    """Taker fee of one fill on a plain quadratic series."""
    return FeeSchedule(QUADRATIC, multiplier).taker_fee(contracts, price)


def winnings_fee(contracts: int, price: Decimal) -> Decimal:
    """The older "7% of winnings" model, for comparison only: paid only if the contract wins."""
    return ceil_to_cent(WINNINGS_RATE * contracts * (1 - price))


def schedules_of(series: Mapping[str, SeriesInfo]) -> dict[str, FeeSchedule | None]:
    """Each series' fee schedule; None where its fee model is one we cannot price exactly."""
    return {ticker: _priced(info.fee_type, info.fee_multiplier) for ticker, info in series.items()}


def schedule_for(schedules: Mapping[str, FeeSchedule | None], series_ticker: str) -> FeeSchedule:
    """The series' schedule, else Kalshi's standard one: for charging or bounding a fee that
    must exist (a fill, a resting order), never for deciding to trade."""
    return schedules.get(series_ticker) or FeeSchedule()
