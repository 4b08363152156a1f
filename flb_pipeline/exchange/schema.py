"""Parse Kalshi wire JSON into core records.

Kalshi publishes prices both as integer cents (`yes_bid`) and as fixed-point dollar strings
(`yes_bid_dollars`, four decimals, sub-penny capable); counts as integers or `*_fp` strings.
The dollar / fixed-point forms win when present. Unknown fields are ignored.

Every field goes through one of the parsers below, and each refuses what the store could not
hold or a trader should not trust with `SchemaError` naming the field: a missing required
field, a string that is not a string, a timestamp that is not one, a count that is not a whole
number in BIGINT range (non-negative unless it is a signed position), an amount beyond
DECIMAL(18, 4) or finer than four decimals, a price outside [0, 1] dollars. `each` adds the
record's ticker (or id), so the caller can count the record as an API error and skip it
instead of crashing a whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from flb_pipeline.core.records import (
    SIDES,
    Action,
    Balance,
    BookLevel,
    EventInfo,
    ExchangeOrder,
    Fill,
    MarketPosition,
    MarketQuote,
    OrderBook,
    PricePoint,
    SeriesInfo,
    SettledMarket,
    Settlement,
    Side,
)
from flb_pipeline.exchange.errors import SchemaError

Json = Mapping[str, Any]
T = TypeVar("T")
API_PREFIX = "/trade-api/v2"
CENTS_PER_DOLLAR = Decimal(100)
DOLLAR_DECIMALS = 4
MAX_DOLLARS = Decimal(10) ** 14  # DECIMAL(18, 4), the store's money type, holds less
MAX_COUNT = 2**63 - 1  # BIGINT
MAX_FEE_MULTIPLIER = Decimal(10) ** 6  # DECIMAL(10, 4), the series table's, holds less
PRICE_BOUNDS = (Decimal(0), Decimal(1))
RECORD_KEYS = ("fill_id", "order_id", "ticker", "market_ticker")


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
        raise SchemaError(f"field {field!r} is not an object: {_shown(value)}")
    return value


def text(obj: Json, field: str) -> str:
    """A required, non-empty string (tickers, statuses, ids)."""
    value = required(obj, field)
    if not isinstance(value, str) or not value:
        raise SchemaError(f"field {field!r} is not a non-empty string: {_shown(value)}")
    return value


def optional_text(obj: Json, field: str) -> str:
    """A descriptive string; absent or null is ""."""
    value = obj.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"field {field!r} is not a string: {_shown(value)}")
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
        raise SchemaError(f"field {field!r} is not a timestamp: {_shown(value)}") from None


def decimal(value: Any, field: str) -> Decimal:
    """A finite number: "NaN" and "Infinity" parse as Decimals but are not amounts."""
    number = None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise SchemaError(f"field {field!r} is not a number: {_shown(value)}")
    return number


def dollars(obj: Json, field: str, *, required_field: bool = True) -> Decimal | None:
    """A price or amount: `<field>_dollars` if given, else `<field>` in integer cents.

    Kalshi's fixed-point strings carry at most four decimals; anything finer is refused here
    rather than rounded silently further down, and so is anything the store cannot hold.
    """
    for name, per_dollar in ((f"{field}_dollars", 1), (field, CENTS_PER_DOLLAR)):
        raw = obj.get(name)
        if raw is not None:
            return _amount(decimal(raw, name) / per_dollar, name, raw)
    if required_field:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    return None


def required_dollars(obj: Json, field: str) -> Decimal:
    amount = dollars(obj, field)
    if amount is None:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    return amount


def price(obj: Json, field: str, *, required_field: bool = True) -> Decimal | None:
    """A contract price: an amount in [0, 1] dollars (a binary contract pays 0 or 1)."""
    amount = dollars(obj, field, required_field=required_field)
    if amount is None:
        return None
    name = f"{field}_dollars" if obj.get(f"{field}_dollars") is not None else field
    return _price(amount, name, obj[name])


def _amount(amount: Decimal, name: str, raw: Any) -> Decimal:
    if abs(amount) >= MAX_DOLLARS:
        raise SchemaError(f"field {name!r} is out of range: {_shown(raw)}")
    if _decimal_places(amount) > DOLLAR_DECIMALS:
        raise SchemaError(f"field {name!r} has more than four decimals: {_shown(raw)}")
    return amount


def _price(amount: Decimal, name: str, raw: Any) -> Decimal:
    low, high = PRICE_BOUNDS
    if not low <= amount <= high:
        raise SchemaError(f"field {name!r} is outside [0, 1] dollars: {_shown(raw)}")
    return _amount(amount, name, raw)


def whole(value: Any, field: str, *, signed: bool = False) -> int:
    """A whole number that fits BIGINT; negative only where `signed` (net positions)."""
    amount = decimal(value, field)
    if amount != amount.to_integral_value():
        raise SchemaError(f"field {field!r} holds a fractional count {_shown(value)}")
    if abs(amount) > MAX_COUNT or (amount < 0 and not signed):
        raise SchemaError(f"field {field!r} is out of range: {_shown(value)}")
    return int(amount)


def count(obj: Json, field: str, *, default: int | None = None, signed: bool = False) -> int:
    """A contract count (or volume): `<field>_fp` if given (must be whole here), else
    `<field>`; `default` when both are absent, else a missing field is an error."""
    for name in (f"{field}_fp", field):
        if obj.get(name) is not None:
            return whole(obj[name], name, signed=signed)
    if default is None:
        raise SchemaError(f"missing required field {field!r}")
    return default


def quote_price(obj: Json, field: str, empty_cents: int) -> Decimal | None:
    """A top-of-book price; Kalshi shows an empty side as 0 (no bid) or 100 (no ask)."""
    amount = price(obj, field)
    if amount is None or amount * CENTS_PER_DOLLAR == empty_cents:
        return None
    return amount


def _decimal_places(amount: Decimal) -> int:
    """Decimals that matter ("0.8850" has three), read off the digits: exact whatever the
    magnitude, where `quantize` would raise past the context's precision."""
    _, digits, exponent = amount.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant or not isinstance(exponent, int):
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


def _shown(value: Any) -> str:
    """The offending value for a message, cut short: a hostile field can be megabytes."""
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers are `<SERIES>-<suffix>`; markets don't carry the series."""
    return event_ticker.split("-", 1)[0]


def market_quote(obj: Json) -> MarketQuote:
    event_ticker = text(obj, "event_ticker")
    quote_time = obj.get("updated_time")
    return MarketQuote(
        ticker=text(obj, "ticker"),
        event_ticker=event_ticker,
        series_ticker=series_ticker_of(event_ticker),
        title=optional_text(obj, "title"),
        category=optional_text(obj, "category"),
        status=text(obj, "status"),
        yes_bid=quote_price(obj, "yes_bid", 0),
        yes_ask=quote_price(obj, "yes_ask", 100),
        no_bid=quote_price(obj, "no_bid", 0),
        no_ask=quote_price(obj, "no_ask", 100),
        last_price=price(obj, "last_price", required_field=False),
        volume=count(obj, "volume", default=0),
        open_interest=count(obj, "open_interest", default=0),
        open_time=timestamp(required(obj, "open_time"), "open_time"),
        close_time=timestamp(required(obj, "close_time"), "close_time"),
        quote_ts=timestamp(quote_time, "updated_time") if quote_time else None,
    )


def settled_market(obj: Json) -> SettledMarket:
    event_ticker = text(obj, "event_ticker")
    return SettledMarket(
        ticker=text(obj, "ticker"),
        event_ticker=event_ticker,
        series_ticker=series_ticker_of(event_ticker),
        category=optional_text(obj, "category"),
        open_time=timestamp(required(obj, "open_time"), "open_time"),
        close_time=timestamp(required(obj, "close_time"), "close_time"),
        result=text(obj, "result"),
        last_price=price(obj, "last_price", required_field=False),
    )


def market_status(obj: Json) -> tuple[str, str, str, datetime]:
    """(ticker, status, result, close_time); result is "" until the market is determined."""
    return (
        text(obj, "ticker"),
        text(obj, "status"),
        optional_text(obj, "result"),
        timestamp(required(obj, "close_time"), "close_time"),
    )


def series_info(obj: Json) -> SeriesInfo:
    tags = obj.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise SchemaError(f"field 'tags' is not a list of strings: {_shown(tags)}")
    return SeriesInfo(
        ticker=text(obj, "ticker"),
        title=optional_text(obj, "title"),
        category=optional_text(obj, "category"),
        fee_type=text(obj, "fee_type"),
        fee_multiplier=_fee_multiplier(obj),
        frequency=optional_text(obj, "frequency"),
        tags=tuple(tags),
    )


def _fee_multiplier(obj: Json) -> Decimal:
    """A non-negative factor on the fee formula, as exact as the store keeps it."""
    raw = required(obj, "fee_multiplier")
    multiplier = _amount(decimal(raw, "fee_multiplier"), "fee_multiplier", raw)
    if multiplier < 0 or multiplier >= MAX_FEE_MULTIPLIER:
        raise SchemaError(f"field 'fee_multiplier' is out of range: {_shown(raw)}")
    return multiplier


def event_info(obj: Json) -> EventInfo:
    mutually_exclusive = required(obj, "mutually_exclusive")
    if not isinstance(mutually_exclusive, bool):
        raise SchemaError(f"field 'mutually_exclusive' is not a boolean: {mutually_exclusive!r}")
    return EventInfo(
        event_ticker=text(obj, "event_ticker"),
        series_ticker=text(obj, "series_ticker"),
        title=optional_text(obj, "title"),
        mutually_exclusive=mutually_exclusive,
    )


def _levels(raw_levels: Any, in_dollars: bool, field: str) -> tuple[BookLevel, ...]:
    """Kalshi levels `[price, count]`, ascending; returned best (highest) bid first."""
    if not isinstance(raw_levels, list):
        raise SchemaError(f"order book field {field!r} is not a list")
    levels = []
    for level in raw_levels:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise SchemaError(f"order book level in {field!r} is not [price, count]")
        raw_price, raw_count = level
        quoted = decimal(raw_price, field) / (1 if in_dollars else CENTS_PER_DOLLAR)
        levels.append(BookLevel(_price(quoted, field, raw_price), whole(raw_count, field)))
    return tuple(sorted(levels, key=lambda lvl: lvl.price, reverse=True))


def order_book(ticker: str, body: Json) -> OrderBook:
    """`orderbook_fp.yes_dollars/no_dollars` when present, else `orderbook.yes/no` in cents."""
    fixed_point = body.get("orderbook_fp")
    if isinstance(fixed_point, Mapping):
        return OrderBook(
            ticker,
            _levels(fixed_point.get("yes_dollars") or [], True, "yes_dollars"),
            _levels(fixed_point.get("no_dollars") or [], True, "no_dollars"),
        )
    book = mapping(required(body, "orderbook"), "orderbook")
    return OrderBook(
        ticker,
        _levels(book.get("yes") or [], False, "yes"),
        _levels(book.get("no") or [], False, "no"),
    )


def _close(distribution: Any, empty_cents: int | None = None) -> Decimal | None:
    """A candle's close; like a live quote, 0 (no bid) and 100 (no ask) mean no price."""
    if not isinstance(distribution, Mapping):
        return None
    close = price(distribution, "close", required_field=False)
    if close is not None and empty_cents is not None and close * CENTS_PER_DOLLAR == empty_cents:
        return None
    return close


def price_points(ticker: str, candlesticks: list[Json]) -> list[PricePoint]:
    candles = [mapping(candle, "candlesticks") for candle in candlesticks]
    return [
        PricePoint(
            ticker=ticker,
            period_end=timestamp(required(candle, "end_period_ts"), "end_period_ts"),
            yes_bid=_close(candle.get("yes_bid"), 0),
            yes_ask=_close(candle.get("yes_ask"), 100),
            last_price=_close(candle.get("price")),
        )
        for candle in candles
    ]


def balance(body: Json) -> Balance:
    cash = required_dollars(body, "balance")
    value = dollars(body, "portfolio_value", required_field=False)
    return Balance(balance=cash, portfolio_value=value if value is not None else cash)


def market_position(obj: Json) -> MarketPosition:
    return MarketPosition(
        ticker=text(obj, "ticker"),
        position=count(obj, "position", signed=True),
        market_exposure=required_dollars(obj, "market_exposure"),
        realized_pnl=required_dollars(obj, "realized_pnl"),
        fees_paid=required_dollars(obj, "fees_paid"),
    )


def _side_price(obj: Json, cents_field: str, dollars_field: str) -> Decimal:
    if obj.get(dollars_field) is not None:
        raw = obj[dollars_field]
        return _price(decimal(raw, dollars_field), dollars_field, raw)
    raw = required(obj, cents_field)
    return _price(decimal(raw, cents_field) / CENTS_PER_DOLLAR, cents_field, raw)


def _side(obj: Json) -> Side:
    side = required(obj, "side")
    if side not in SIDES:
        raise SchemaError(f"field 'side' is not yes/no: {_shown(side)}")
    return cast(Side, side)


def _action(obj: Json) -> Action:
    action = required(obj, "action")
    if action not in ("buy", "sell"):
        raise SchemaError(f"field 'action' is not buy/sell: {_shown(action)}")
    return cast(Action, action)


def exchange_order(obj: Json) -> ExchangeOrder:
    side = _side(obj)
    fees = required_dollars(obj, "taker_fees") + required_dollars(obj, "maker_fees")
    created = obj.get("created_time")
    return ExchangeOrder(
        order_id=text(obj, "order_id"),
        client_order_id=optional_text(obj, "client_order_id"),
        ticker=text(obj, "ticker"),
        side=side,
        action=_action(obj),
        status=text(obj, "status"),
        limit_price=_side_price(obj, f"{side}_price", f"{side}_price_dollars"),
        initial_contracts=count(obj, "initial_count"),
        filled_contracts=count(obj, "fill_count"),
        remaining_contracts=count(obj, "remaining_count"),
        fees=fees,
        created_time=timestamp(created, "created_time") if created else None,
    )


def fill(obj: Json) -> Fill:
    side = _side(obj)
    fee = obj.get("fee_cost")  # not every API version reports it: None is filled in later
    created = obj.get("created_time") or obj.get("ts")
    return Fill(
        fill_id=text(obj, "fill_id"),
        order_id=text(obj, "order_id"),
        client_order_id=optional_text(obj, "client_order_id") or None,
        ticker=text(obj, "market_ticker" if obj.get("market_ticker") else "ticker"),
        side=side,
        action=_action(obj),
        contracts=count(obj, "count"),
        price=_side_price(obj, f"{side}_price", f"{side}_price_fixed"),
        fee=_amount(decimal(fee, "fee_cost"), "fee_cost", fee) if fee is not None else None,
        is_taker=bool(obj.get("is_taker", True)),
        created_time=timestamp(required({"created_time": created}, "created_time"), "created_time"),
    )


def settlement(obj: Json) -> Settlement:
    return Settlement(
        ticker=text(obj, "ticker"),
        event_ticker=optional_text(obj, "event_ticker"),
        result=text(obj, "market_result"),
        yes_contracts=count(obj, "yes_count"),
        no_contracts=count(obj, "no_count"),
        yes_total_cost=required_dollars(obj, "yes_total_cost"),
        no_total_cost=required_dollars(obj, "no_total_cost"),
        revenue=required_dollars(obj, "revenue"),
        settled_time=timestamp(required(obj, "settled_time"), "settled_time"),
    )


def each(items: Any, parse: Callable[[Json], T], field: str) -> tuple[list[T], list[SchemaError]]:
    """Parse a list field record by record; bad records are returned, not raised, each
    naming the record (its ticker or id, else its position) as well as the field."""
    if not isinstance(items, list):
        raise SchemaError(f"field {field!r} is not a list")
    parsed: list[T] = []
    errors: list[SchemaError] = []
    for position, item in enumerate(items, start=1):
        try:
            parsed.append(parse(mapping(item, field)))
        except SchemaError as error:
            errors.append(SchemaError(f"{_record_name(item, field, position)}: {error}"))
    return parsed, errors


def _record_name(item: Any, field: str, position: int) -> str:
    """`markets record 'KXHIGHNY-26NOV29-B45.5'`, or its position when it has no usable id."""
    if isinstance(item, Mapping):
        for key in RECORD_KEYS:
            value = item.get(key)
            if isinstance(value, str) and value:
                return f"{field} record {value!r}"
    return f"{field} record #{position} (no ticker or id)"
