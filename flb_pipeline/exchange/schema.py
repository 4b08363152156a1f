"""Parse Kalshi wire JSON into core records.

Kalshi publishes prices both as integer cents (`yes_bid`) and as fixed-point dollar strings
(`yes_bid_dollars`, four decimals, sub-penny capable); counts as integers or `*_fp` strings.
The dollar / fixed-point forms win when present. Unknown fields are ignored.

Every field goes through a parser of `exchange.fields`, which refuses a bad value with
`SchemaError` naming the field; `each` adds the record's ticker (or id), so the caller can
count the record as an API error and skip it instead of crashing a whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
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
from flb_pipeline.exchange.fields import (
    CENTS_PER_DOLLAR,
    Json,
    amount_in_range,
    count,
    decimal,
    dollars,
    mapping,
    optional_text,
    price,
    price_in_range,
    quote_price,
    required,
    required_dollars,
    shown,
    text,
    timestamp,
    whole,
)

T = TypeVar("T")
API_PREFIX = "/trade-api/v2"
MAX_FEE_MULTIPLIER = Decimal(10) ** 6  # DECIMAL(10, 4), the series table's, holds less
RECORD_KEYS = ("fill_id", "order_id", "ticker", "market_ticker")


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
        raise SchemaError(f"field 'tags' is not a list of strings: {shown(tags)}")
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
    multiplier = amount_in_range(decimal(raw, "fee_multiplier"), "fee_multiplier", raw)
    if multiplier < 0 or multiplier >= MAX_FEE_MULTIPLIER:
        raise SchemaError(f"field 'fee_multiplier' is out of range: {shown(raw)}")
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
        levels.append(BookLevel(price_in_range(quoted, field, raw_price), whole(raw_count, field)))
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
        return price_in_range(decimal(raw, dollars_field), dollars_field, raw)
    raw = required(obj, cents_field)
    return price_in_range(decimal(raw, cents_field) / CENTS_PER_DOLLAR, cents_field, raw)


def _side(obj: Json) -> Side:
    side = required(obj, "side")
    if side not in SIDES:
        raise SchemaError(f"field 'side' is not yes/no: {shown(side)}")
    return cast(Side, side)


def _action(obj: Json) -> Action:
    action = required(obj, "action")
    if action not in ("buy", "sell"):
        raise SchemaError(f"field 'action' is not buy/sell: {shown(action)}")
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
        fee=amount_in_range(decimal(fee, "fee_cost"), "fee_cost", fee) if fee is not None else None,
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
