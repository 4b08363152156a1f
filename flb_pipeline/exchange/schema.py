"""Parse Kalshi wire JSON into core records.

Since 2026-03-12 Kalshi publishes prices only as fixed-point dollar strings (`yes_bid_dollars`,
four decimals, sub-penny capable) and counts only as `*_fp` strings (hundredths); orders and
fills carry their direction as `book_side` (bid/ask on the YES book) and `outcome_side`. The
older integer-cent fields and side/action pair are read only as a fallback, for old servers.
Unknown fields are ignored.

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
from flb_pipeline.core.ticks import PriceLevels, PriceRange, UnsupportedPriceLevels
from flb_pipeline.exchange.errors import SchemaError
from flb_pipeline.exchange.fields import (
    CENTS_PER_DOLLAR,
    Json,
    amount_in_range,
    count,
    decimal,
    dollars,
    fixed_point_count,
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
)
from flb_pipeline.exchange.order_sides import BOOK_SIDES, BookSide, from_book_order

T = TypeVar("T")
API_PREFIX = "/trade-api/v2"
MAX_FEE_MULTIPLIER = Decimal(10) ** 6  # DECIMAL(10, 4), the series table's, holds less
RECORD_KEYS = ("fill_id", "order_id", "ticker", "market_ticker")


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers are `<SERIES>-<suffix>`; markets don't carry the series."""
    return event_ticker.split("-", 1)[0]


def market_quote(obj: Json, received_at: datetime | None = None) -> MarketQuote:
    """One listed market; its quote time is when the listing carrying it was received
    (`updated_time` is Kalshi's last *metadata* change and says nothing about the quote)."""
    event_ticker = text(obj, "event_ticker")
    waiver = obj.get("fee_waiver_expiration_time")
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
        quote_ts=received_at,
        price_levels=price_levels(obj),
        fee_waiver_expires=timestamp(waiver, "fee_waiver_expiration_time") if waiver else None,
        fractional=_flag(obj, "fractional_trading_enabled"),
    )


def price_levels(obj: Json) -> PriceLevels | None:
    """The market's price grid from `price_level_structure` and `price_ranges`; None for a
    structure we do not know (that market is not traded, and the reason is counted)."""
    structure = obj.get("price_level_structure")
    if structure is not None and not isinstance(structure, str):
        raise SchemaError(f"field 'price_level_structure' is not a string: {shown(structure)}")
    raw_ranges = obj.get("price_ranges") or []
    if not isinstance(raw_ranges, list):
        raise SchemaError("field 'price_ranges' is not a list")
    ranges = tuple(_price_range(mapping(item, "price_ranges")) for item in raw_ranges)
    try:
        return PriceLevels.of(structure, ranges)
    except UnsupportedPriceLevels:
        return None


def _price_range(obj: Json) -> PriceRange:
    bounds = [price_in_range(decimal(obj.get(k), k), k, obj.get(k)) for k in ("start", "end")]
    step = price_in_range(decimal(obj.get("step"), "step"), "step", obj.get("step"))
    if step <= 0 or bounds[0] > bounds[1]:
        raise SchemaError(f"price range is empty or has no step: {shown(dict(obj))}")
    return PriceRange(bounds[0], bounds[1], step)


def _flag(obj: Json, field: str) -> bool:
    value = obj.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SchemaError(f"field {field!r} is not a boolean: {shown(value)}")
    return value


def settled_market(obj: Json) -> SettledMarket:
    event_ticker = text(obj, "event_ticker")
    settled = obj.get("settlement_ts")
    return SettledMarket(
        ticker=text(obj, "ticker"),
        event_ticker=event_ticker,
        series_ticker=series_ticker_of(event_ticker),
        category=optional_text(obj, "category"),
        open_time=timestamp(required(obj, "open_time"), "open_time"),
        close_time=timestamp(required(obj, "close_time"), "close_time"),
        result=text(obj, "result"),
        last_price=price(obj, "last_price", required_field=False),
        settled_at=timestamp(settled, "settlement_ts") if settled else None,
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
        levels.append(
            BookLevel(price_in_range(quoted, field, raw_price), fixed_point_count(raw_count, field))
        )
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


def _close(
    distribution: Any, empty_cents: int | None = None, *, historical: bool = False
) -> Decimal | None:
    """A candle's close; like a live quote, 0 (no bid) and 100 (no ask) mean no price. The
    historical tier writes dollar strings without the `_dollars` suffix."""
    if not isinstance(distribution, Mapping):
        return None
    if historical:
        raw = distribution.get("close")
        close = None if raw is None else price_in_range(decimal(raw, "close"), "close", raw)
    else:
        close = price(distribution, "close", required_field=False)
    if close is not None and empty_cents is not None and close * CENTS_PER_DOLLAR == empty_cents:
        return None
    return close


def price_points(
    ticker: str, candlesticks: list[Json], *, historical: bool = False
) -> list[PricePoint]:
    candles = [mapping(candle, "candlesticks") for candle in candlesticks]
    return [
        PricePoint(
            ticker=ticker,
            period_end=timestamp(required(candle, "end_period_ts"), "end_period_ts"),
            yes_bid=_close(candle.get("yes_bid"), 0, historical=historical),
            yes_ask=_close(candle.get("yes_ask"), 100, historical=historical),
            last_price=_close(candle.get("price"), historical=historical),
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


def _side_price(obj: Json, side: Side, *dollar_fields: str) -> Decimal:
    """The price of `side` from its fixed-point field (`yes_price_dollars`, or an older
    spelling), else its legacy integer cents."""
    for name in dollar_fields:
        if obj.get(name) is not None:
            raw = obj[name]
            return price_in_range(decimal(raw, name), name, raw)
    raw = required(obj, f"{side}_price")
    return price_in_range(decimal(raw, f"{side}_price") / CENTS_PER_DOLLAR, f"{side}_price", raw)


def _choice(obj: Json, field: str, allowed: tuple[str, ...]) -> str:
    value = required(obj, field)
    if value not in allowed:
        raise SchemaError(f"field {field!r} is not one of {'/'.join(allowed)}: {shown(value)}")
    return cast(str, value)


def direction(obj: Json) -> tuple[Side, Action]:
    """(side, action) in our own terms: from `book_side` and `outcome_side` (a bid buys YES,
    an ask buys NO), else from the legacy `side`/`action` pair."""
    if obj.get("book_side") is not None:
        book_side = cast(BookSide, _choice(obj, "book_side", BOOK_SIDES))
        outcome = cast(Side, _choice(obj, "outcome_side", SIDES))
        action, _ = from_book_order(book_side, outcome, Decimal("0.5"))
        return outcome, action
    return cast(Side, _choice(obj, "side", SIDES)), cast(Action, _choice(obj, "action", ACTIONS))


ACTIONS = ("buy", "sell")


def exchange_order(obj: Json) -> ExchangeOrder:
    side, action = direction(obj)
    fees = required_dollars(obj, "taker_fees") + required_dollars(obj, "maker_fees")
    created = obj.get("created_time")
    return ExchangeOrder(
        order_id=text(obj, "order_id"),
        client_order_id=optional_text(obj, "client_order_id"),
        ticker=text(obj, "ticker"),
        side=side,
        action=action,
        status=text(obj, "status"),
        limit_price=_side_price(obj, side, f"{side}_price_dollars"),
        initial_contracts=count(obj, "initial_count"),
        filled_contracts=count(obj, "fill_count"),
        remaining_contracts=count(obj, "remaining_count"),
        fees=fees,
        created_time=timestamp(created, "created_time") if created else None,
    )


def fill(obj: Json) -> Fill:
    side, action = direction(obj)
    fee = obj.get("fee_cost")  # not every API version reports it: None is filled in later
    created = obj.get("created_time") or obj.get("ts")
    return Fill(
        fill_id=text(obj, "fill_id"),
        order_id=text(obj, "order_id"),
        client_order_id=optional_text(obj, "client_order_id") or None,
        ticker=text(obj, "market_ticker" if obj.get("market_ticker") else "ticker"),
        side=side,
        action=action,
        contracts=count(obj, "count"),
        price=_side_price(obj, side, f"{side}_price_dollars", f"{side}_price_fixed"),
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
