"""Parse Kalshi wire JSON into core records.

Kalshi publishes prices both as integer cents (`yes_bid`) and as fixed-point dollar strings
(`yes_bid_dollars`, four decimals, sub-penny capable); counts as integers or `*_fp` strings.
The dollar / fixed-point forms win when present. Unknown fields are ignored; a missing
required field raises `SchemaError` naming the field, so the caller can count it as an API
error and skip that record instead of crashing a whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
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
DOLLAR_PLACES = Decimal("0.0001")


def required(obj: Json, field: str) -> Any:
    try:
        value = obj[field]
    except (KeyError, TypeError):
        raise SchemaError(f"missing required field {field!r}") from None
    if value is None:
        raise SchemaError(f"required field {field!r} is null")
    return value


def timestamp(value: Any, field: str) -> datetime:
    """ISO-8601 (Kalshi objects) or epoch seconds (candlesticks) to an aware UTC datetime."""
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        parsed = datetime.fromisoformat(str(value))
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(f"field {field!r} is not a timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decimal(value: Any, field: str) -> Decimal:
    """A finite number: "NaN" and "Infinity" parse as Decimals but are not amounts."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise SchemaError(f"field {field!r} is not a number: {value!r}")
    return number


def dollars(obj: Json, field: str, *, required_field: bool = True) -> Decimal | None:
    """A price or amount: `<field>_dollars` if given, else `<field>` in integer cents.

    Kalshi's fixed-point strings carry at most four decimals; anything finer is refused here
    rather than rounded silently further down.
    """
    if obj.get(f"{field}_dollars") is not None:
        amount = decimal(obj[f"{field}_dollars"], f"{field}_dollars")
    elif obj.get(field) is not None:
        amount = decimal(obj[field], field) / CENTS_PER_DOLLAR
    elif required_field:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    else:
        return None
    if amount != amount.quantize(DOLLAR_PLACES, rounding=ROUND_DOWN):
        raise SchemaError(f"field {field!r} has more than four decimals: {amount}")
    return amount


def required_dollars(obj: Json, field: str) -> Decimal:
    amount = dollars(obj, field)
    if amount is None:
        raise SchemaError(f"missing required field {field!r} (or {field}_dollars)")
    return amount


def count(obj: Json, field: str) -> int:
    """A contract count: `<field>_fp` if given (must be whole here), else `<field>`."""
    raw = obj.get(f"{field}_fp", obj.get(field))
    if raw is None:
        raise SchemaError(f"missing required field {field!r}")
    amount = decimal(raw, field)
    if amount != amount.to_integral_value():
        raise SchemaError(f"field {field!r} holds a fractional count {raw!r}")
    return int(amount)


def quote_price(obj: Json, field: str, empty_cents: int) -> Decimal | None:
    """A top-of-book price; Kalshi shows an empty side as 0 (no bid) or 100 (no ask)."""
    price = dollars(obj, field)
    if price is None or price * CENTS_PER_DOLLAR == empty_cents:
        return None
    return price


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers are `<SERIES>-<suffix>`; markets don't carry the series."""
    return event_ticker.split("-", 1)[0]


def market_quote(obj: Json) -> MarketQuote:
    event_ticker = str(required(obj, "event_ticker"))
    quote_time = obj.get("updated_time")
    return MarketQuote(
        ticker=str(required(obj, "ticker")),
        event_ticker=event_ticker,
        series_ticker=series_ticker_of(event_ticker),
        title=str(obj.get("title", "")),
        category=str(obj.get("category", "")),
        status=str(required(obj, "status")),
        yes_bid=quote_price(obj, "yes_bid", 0),
        yes_ask=quote_price(obj, "yes_ask", 100),
        no_bid=quote_price(obj, "no_bid", 0),
        no_ask=quote_price(obj, "no_ask", 100),
        last_price=dollars(obj, "last_price", required_field=False),
        volume=int(obj.get("volume", 0) or 0),
        open_interest=int(obj.get("open_interest", 0) or 0),
        open_time=timestamp(required(obj, "open_time"), "open_time"),
        close_time=timestamp(required(obj, "close_time"), "close_time"),
        quote_ts=timestamp(quote_time, "updated_time") if quote_time else None,
    )


def settled_market(obj: Json) -> SettledMarket:
    event_ticker = str(required(obj, "event_ticker"))
    return SettledMarket(
        ticker=str(required(obj, "ticker")),
        event_ticker=event_ticker,
        series_ticker=series_ticker_of(event_ticker),
        category=str(obj.get("category", "")),
        open_time=timestamp(required(obj, "open_time"), "open_time"),
        close_time=timestamp(required(obj, "close_time"), "close_time"),
        result=str(required(obj, "result")),
        last_price=dollars(obj, "last_price", required_field=False),
    )


def market_status(obj: Json) -> tuple[str, str, str, datetime]:
    """(ticker, status, result, close_time); result is "" until the market is determined."""
    return (
        str(required(obj, "ticker")),
        str(required(obj, "status")),
        str(obj.get("result") or ""),
        timestamp(required(obj, "close_time"), "close_time"),
    )


def series_info(obj: Json) -> SeriesInfo:
    return SeriesInfo(
        ticker=str(required(obj, "ticker")),
        title=str(obj.get("title", "")),
        category=str(obj.get("category", "")),
        fee_type=str(required(obj, "fee_type")),
        fee_multiplier=decimal(required(obj, "fee_multiplier"), "fee_multiplier"),
        frequency=str(obj.get("frequency", "")),
        tags=tuple(str(tag) for tag in obj.get("tags") or ()),
    )


def event_info(obj: Json) -> EventInfo:
    mutually_exclusive = required(obj, "mutually_exclusive")
    if not isinstance(mutually_exclusive, bool):
        raise SchemaError(f"field 'mutually_exclusive' is not a boolean: {mutually_exclusive!r}")
    return EventInfo(
        event_ticker=str(required(obj, "event_ticker")),
        series_ticker=str(required(obj, "series_ticker")),
        title=str(obj.get("title", "")),
        mutually_exclusive=mutually_exclusive,
    )


def _levels(raw_levels: Any, in_dollars: bool, field: str) -> tuple[BookLevel, ...]:
    """Kalshi levels `[price, count]`, ascending; returned best (highest) bid first."""
    if not isinstance(raw_levels, list):
        raise SchemaError(f"order book field {field!r} is not a list")
    levels = []
    for level in raw_levels or []:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise SchemaError(f"order book level in {field!r} is not [price, count]")
        price = decimal(level[0], field)
        contracts = int(decimal(level[1], field))
        levels.append(BookLevel(price if in_dollars else price / CENTS_PER_DOLLAR, contracts))
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
    book = required(body, "orderbook")
    return OrderBook(
        ticker,
        _levels(book.get("yes") or [], False, "yes"),
        _levels(book.get("no") or [], False, "no"),
    )


def _close(distribution: Any, empty_cents: int | None = None) -> Decimal | None:
    """A candle's close; like a live quote, 0 (no bid) and 100 (no ask) mean no price."""
    if not isinstance(distribution, Mapping):
        return None
    price = dollars(distribution, "close", required_field=False)
    if price is not None and empty_cents is not None and price * CENTS_PER_DOLLAR == empty_cents:
        return None
    return price


def price_points(ticker: str, candlesticks: list[Json]) -> list[PricePoint]:
    return [
        PricePoint(
            ticker=ticker,
            period_end=timestamp(required(candle, "end_period_ts"), "end_period_ts"),
            yes_bid=_close(candle.get("yes_bid"), 0),
            yes_ask=_close(candle.get("yes_ask"), 100),
            last_price=_close(candle.get("price")),
        )
        for candle in candlesticks
    ]


def balance(body: Json) -> Balance:
    cash = required_dollars(body, "balance")
    value = dollars(body, "portfolio_value", required_field=False)
    return Balance(balance=cash, portfolio_value=value if value is not None else cash)


def market_position(obj: Json) -> MarketPosition:
    return MarketPosition(
        ticker=str(required(obj, "ticker")),
        position=count(obj, "position"),
        market_exposure=required_dollars(obj, "market_exposure"),
        realized_pnl=required_dollars(obj, "realized_pnl"),
        fees_paid=required_dollars(obj, "fees_paid"),
    )


def _side_price(obj: Json, cents_field: str, dollars_field: str) -> Decimal:
    if obj.get(dollars_field) is not None:
        return decimal(obj[dollars_field], dollars_field)
    return decimal(required(obj, cents_field), cents_field) / CENTS_PER_DOLLAR


def _side(obj: Json) -> Side:
    side = required(obj, "side")
    if side not in SIDES:
        raise SchemaError(f"field 'side' is not yes/no: {side!r}")
    return cast(Side, side)


def _action(obj: Json) -> Action:
    action = required(obj, "action")
    if action not in ("buy", "sell"):
        raise SchemaError(f"field 'action' is not buy/sell: {action!r}")
    return cast(Action, action)


def exchange_order(obj: Json) -> ExchangeOrder:
    side = _side(obj)
    fees = required_dollars(obj, "taker_fees") + required_dollars(obj, "maker_fees")
    created = obj.get("created_time")
    return ExchangeOrder(
        order_id=str(required(obj, "order_id")),
        client_order_id=str(obj.get("client_order_id") or ""),
        ticker=str(required(obj, "ticker")),
        side=side,
        action=_action(obj),
        status=str(required(obj, "status")),
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
        fill_id=str(required(obj, "fill_id")),
        order_id=str(required(obj, "order_id")),
        client_order_id=obj.get("client_order_id"),
        ticker=str(obj.get("market_ticker") or required(obj, "ticker")),
        side=side,
        action=_action(obj),
        contracts=count(obj, "count"),
        price=_side_price(obj, f"{side}_price", f"{side}_price_fixed"),
        fee=decimal(fee, "fee_cost") if fee is not None else None,
        is_taker=bool(obj.get("is_taker", True)),
        created_time=timestamp(required({"created_time": created}, "created_time"), "created_time"),
    )


def settlement(obj: Json) -> Settlement:
    return Settlement(
        ticker=str(required(obj, "ticker")),
        event_ticker=str(obj.get("event_ticker", "")),
        result=str(required(obj, "market_result")),
        yes_contracts=count(obj, "yes_count"),
        no_contracts=count(obj, "no_count"),
        yes_total_cost=required_dollars(obj, "yes_total_cost"),
        no_total_cost=required_dollars(obj, "no_total_cost"),
        revenue=required_dollars(obj, "revenue"),
        settled_time=timestamp(required(obj, "settled_time"), "settled_time"),
    )


def each(items: Any, parse: Callable[[Json], T], field: str) -> tuple[list[T], list[SchemaError]]:
    """Parse a list field record by record; bad records are returned, not raised."""
    if not isinstance(items, list):
        raise SchemaError(f"field {field!r} is not a list")
    parsed: list[T] = []
    errors: list[SchemaError] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except SchemaError as error:
            errors.append(error)
    return parsed, errors
