"""Field parsers for Kalshi wire JSON: each value a record carries, checked on the way in.

Each refuses what the store could not hold or a trader should not trust with `SchemaError`
naming the field: a missing required field, a string that is not a string, a timestamp that
is not one, a count beyond the store's DECIMAL(18, 2) (negative only for a signed position)
or finer than a hundredth (Kalshi's fractional contracts), an amount beyond DECIMAL(20, 6) or
finer than six decimals, a price outside [0, 1] dollars or finer than four decimals. Nothing
here lets a raw Python or Arrow error through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from flb_pipeline.core.records import HUNDREDTH, Count, count_of
from flb_pipeline.exchange.errors import SchemaError

Json = Mapping[str, Any]
CENTS_PER_DOLLAR = Decimal(100)
PRICE_PLACES = Decimal("0.0001")
MONEY_PLACES = Decimal("0.000001")
MAX_DOLLARS = Decimal(10) ** 14  # DECIMAL(20, 6), the store's money type, holds less
MAX_COUNT = 10**16 - 1  # DECIMAL(18, 2), the store's count type, holds no more
PRICE_BOUNDS = (Decimal(0), Decimal(1))


def required(obj: Json, field: str) -> Any:
    try:
        value = obj[field]
    except (KeyError, TypeError):
        raise SchemaError(f"missing required field {field!r}") from None
    if value is None:
        raise SchemaError(f"required field {field!r} is null")
    return value


def mapping(value: Any, field: str) -> Json:
    if not isinstance(value, Mapping):
        raise SchemaError(f"field {field!r} is not an object: {shown(value)}")
    return value


def text(obj: Json, field: str) -> str:
    """A required, non-empty string (tickers, statuses, ids)."""
    value = required(obj, field)
    if not isinstance(value, str) or not value:
        raise SchemaError(f"field {field!r} is not a non-empty string: {shown(value)}")
    return value


def optional_text(obj: Json, field: str) -> str:
    """A descriptive string; absent or null is ""."""
    value = obj.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"field {field!r} is not a string: {shown(value)}")
    return value


def timestamp(value: Any, field: str) -> datetime:
    """ISO-8601 (Kalshi objects) or epoch seconds (candlesticks) to an aware UTC datetime."""
    try:
        if isinstance(value, bool):
            raise TypeError("a boolean is not a time")
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            raise TypeError("not an ISO-8601 string")
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise SchemaError(f"field {field!r} is not a timestamp: {shown(value)}") from None


def decimal(value: Any, field: str) -> Decimal:
    """A finite number: "NaN" and "Infinity" parse as Decimals but are not amounts."""
    kind = type(value)  # exact types: a JSON true is a bool, which is no number here
    if kind is str or kind is int or kind is float:
        try:
            number = Decimal(str(value) if kind is float else value)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise SchemaError(f"field {field!r} is not a number: {shown(value)}")


def dollars(obj: Json, field: str, *, required_field: bool = True) -> Decimal | None:
    """A price or amount: `<field>_dollars` if given, else `<field>` in integer cents.

    Kalshi's amounts carry at most six decimals (four for a price, more where fractional
    counts meet sub-cent prices); anything finer is refused here rather than rounded silently
    further down, and so is anything the store cannot hold.
    """
    found = _dollar_field(obj, field, required_field)
    return None if found is None else amount_in_range(*found)


def required_dollars(obj: Json, field: str) -> Decimal:
    amount = dollars(obj, field)
    if amount is None:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    return amount


def price(obj: Json, field: str, *, required_field: bool = True) -> Decimal | None:
    """A contract price: an amount in [0, 1] dollars (a binary contract pays 0 or 1)."""
    found = _dollar_field(obj, field, required_field)
    return None if found is None else price_in_range(*found)


def _dollar_field(obj: Json, field: str, required_field: bool) -> tuple[Decimal, str, Any] | None:
    """(amount in dollars, the field it came from, its raw value), or None if absent."""
    raw = obj.get(f"{field}_dollars")
    if raw is not None:
        return decimal(raw, f"{field}_dollars"), f"{field}_dollars", raw
    raw = obj.get(field)
    if raw is not None:
        return decimal(raw, field) / CENTS_PER_DOLLAR, field, raw
    if required_field:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    return None


def amount_in_range(amount: Decimal, name: str, raw: Any) -> Decimal:
    """An amount the store's DECIMAL(20, 6) holds exactly (Kalshi writes up to six)."""
    if abs(amount) >= MAX_DOLLARS:
        raise SchemaError(f"field {name!r} is out of range: {shown(raw)}")
    return _at_most(amount, MONEY_PLACES, "six", name, raw)


def price_in_range(amount: Decimal, name: str, raw: Any) -> Decimal:
    """A price in [0, 1] dollars with at most four decimals."""
    low, high = PRICE_BOUNDS
    if not low <= amount <= high:
        raise SchemaError(f"field {name!r} is outside [0, 1] dollars: {shown(raw)}")
    return _at_most(amount, PRICE_PLACES, "four", name, raw)


def _at_most(amount: Decimal, places: Decimal, words: str, name: str, raw: Any) -> Decimal:
    """Refuse anything finer than `places`; the amount is within range here, so `quantize`
    stays inside the decimal context's precision and cannot raise."""
    if amount != amount.quantize(places, rounding=ROUND_DOWN):
        raise SchemaError(f"field {name!r} has more than {words} decimals: {shown(raw)}")
    return amount


def whole(value: Any, field: str, *, signed: bool = False) -> int:
    """A whole number the store's counts hold; negative only where `signed` (positions)."""
    amount = decimal(value, field)
    if abs(amount) > MAX_COUNT or (amount < 0 and not signed):
        raise SchemaError(f"field {field!r} is out of range: {shown(value)}")
    if amount != amount.to_integral_value():
        raise SchemaError(f"field {field!r} holds a fractional count {shown(value)}")
    return int(amount)


def fixed_point_count(value: Any, field: str, *, signed: bool = False) -> Count:
    """A count in hundredths of a contract (an int when whole), in the store's range."""
    amount = decimal(value, field)
    if abs(amount) > MAX_COUNT or (amount < 0 and not signed):
        raise SchemaError(f"field {field!r} is out of range: {shown(value)}")
    if amount != amount.quantize(HUNDREDTH, rounding=ROUND_DOWN):
        raise SchemaError(f"field {field!r} is finer than a hundredth: {shown(value)}")
    return count_of(amount)


def count(obj: Json, field: str, *, default: Count | None = None, signed: bool = False) -> Count:
    """A contract count (or volume): `<field>_fp` (hundredths) if given, else the legacy
    whole `<field>`; `default` when both are absent, else a missing field is an error."""
    if obj.get(f"{field}_fp") is not None:
        return fixed_point_count(obj[f"{field}_fp"], f"{field}_fp", signed=signed)
    if obj.get(field) is not None:
        return whole(obj[field], field, signed=signed)
    if default is None:
        raise SchemaError(f"missing required field {field!r}")
    return default


def quote_price(obj: Json, field: str, empty_cents: int) -> Decimal | None:
    """A top-of-book price; Kalshi shows an empty side as 0 (no bid) or 100 (no ask)."""
    amount = price(obj, field)
    if amount is None or amount * CENTS_PER_DOLLAR == empty_cents:
        return None
    return amount


def shown(value: Any) -> str:
    """The offending value for a message, cut short: a hostile field can be megabytes."""
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."
