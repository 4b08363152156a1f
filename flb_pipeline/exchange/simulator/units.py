"""Wire units: Kalshi prices travel as integer cents and as fixed-point dollar strings.

Dollar strings always carry exactly four decimals ("0.9500") and counts two ("120.00"); the
official SDK models reject anything else, so every formatter lives here.
"""

from __future__ import annotations

from datetime import UTC, datetime

CENTS_PER_DOLLAR = 100


def dollars(cents: int) -> str:
    """Integer cents as a four-decimal dollar string, e.g. 95 -> "0.9500", -5 -> "-0.0500"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), CENTS_PER_DOLLAR)
    return f"{sign}{whole}.{frac:02d}00"


PRICE_DOLLARS = [dollars(cents) for cents in range(101)]
"""`dollars` of every price a contract can have, precomputed: the simulator formats
millions of prices per scan."""


def count_fp(count: int) -> str:
    """A contract count in Kalshi's `*_fp` form, e.g. 120 -> "120.00"."""
    return f"{count}.00"


def iso(ts: float) -> str:
    """UNIX seconds as ISO-8601 UTC with a trailing Z (microseconds only when non-zero)."""
    moment = datetime.fromtimestamp(ts, UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
