"""Wire units: prices in mills (tenths of a cent) inside, fixed-point strings on the wire.

Kalshi quotes on a tenth-of-a-cent grid where a market allows it, so every price in the
simulator is an integer number of mills (1000 per dollar); counts and money are exact
`Decimal`s. On the wire prices are four-decimal dollar strings ("0.9350"), counts two-decimal
strings ("120.00") and money at least four decimals (more only when fractional counts make
it finer), as Kalshi's SDK models expect. Every formatter lives here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

MILLS_PER_DOLLAR = 1000
MILLS_PER_CENT = 10
ONE_DOLLAR_MILLS = MILLS_PER_DOLLAR
_MILL = Decimal("0.001")
_MONEY_QUANTUM = Decimal("0.000001")


def price_text(mills: int) -> str:
    """Mills as a four-decimal dollar string, e.g. 935 -> "0.9350"."""
    whole, frac = divmod(mills, MILLS_PER_DOLLAR)
    return f"{whole}.{frac:03d}0"


PRICE_TEXT = [price_text(mills) for mills in range(MILLS_PER_DOLLAR + 1)]
"""`price_text` of every price a contract can have, precomputed: the simulator formats
millions of prices per scan."""


def mills_to_dollars(mills: int) -> Decimal:
    return Decimal(mills) * _MILL


def dollars_to_mills(price: Decimal) -> int:
    """Exact mills of a dollar price; the caller has checked it lies on the mill grid."""
    return int(price * MILLS_PER_DOLLAR)


def legacy_cents(mills: int) -> int:
    """The integer-cent field an old client reads; sub-cent prices round to the nearest
    cent, as Kalshi's deprecated integer fields did."""
    return (mills + MILLS_PER_CENT // 2) // MILLS_PER_CENT


def count_text(count: Decimal | int) -> str:
    """A contract count in Kalshi's `*_fp` form, e.g. 120 -> "120.00"."""
    return f"{Decimal(count):.2f}"


def money_text(amount: Decimal) -> str:
    """Dollars with four decimals, or up to six where a fractional count makes it finer."""
    exact = amount.quantize(_MONEY_QUANTUM)
    text = f"{exact:.6f}"
    while text.endswith("0") and len(text.split(".")[1]) > 4:
        text = text[:-1]
    return text


def money_cents(amount: Decimal) -> int:
    """Whole cents of an amount the SDK still wants as an integer (balance, revenue)."""
    return int((amount * 100).to_integral_value())


def iso(ts: float) -> str:
    """UNIX seconds as ISO-8601 UTC with a trailing Z (microseconds only when non-zero)."""
    moment = datetime.fromtimestamp(ts, UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
