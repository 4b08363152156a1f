"""Validation of order bodies: Kalshi's V2 `CreateOrderV2Request` and the legacy form.

A V2 order is a bid or an ask on the market's YES book at a YES price, with count and price
as fixed-point strings. The legacy `POST /portfolio/orders` body (side yes/no, action
buy/sell, integer cents or dollar strings) is accepted only when the simulator serves the
legacy API. Both become an `OrderTicket`: the limit in mills of the order's own side, plus
the equivalent buy ("sell YES at p" is "buy NO at $1 - p") that matching and accounting use.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flb_pipeline.core.records import Action, Side, other_side
from flb_pipeline.exchange.order_sides import BOOK_SIDES, BookSide
from flb_pipeline.exchange.simulator.errors import bad_request
from flb_pipeline.exchange.simulator.units import MILLS_PER_CENT, ONE_DOLLAR_MILLS

IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
GOOD_TILL_CANCELED = "good_till_canceled"
FILL_OR_KILL = "fill_or_kill"
TIMES_IN_FORCE = (IMMEDIATE_OR_CANCEL, GOOD_TILL_CANCELED, FILL_OR_KILL)
SELF_TRADE_PREVENTION = ("taker_at_cross", "maker")
_LEGACY_PRICE_FIELDS = ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars")
_HUNDREDTH = Decimal("0.01")
_MILL = Decimal("0.001")
MAX_CLIENT_ORDER_ID = 64


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """A validated limit order, in our own terms: `action` `count` `side` contracts at
    `limit` mills of that side (a V2 bid buys YES, a V2 ask buys NO)."""

    ticker: str
    client_order_id: str
    side: Side
    action: Action
    count: Decimal
    limit: int
    time_in_force: str
    post_only: bool = False
    reduce_only: bool = False
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False
    self_trade_prevention_type: str = "taker_at_cross"
    expiration_ts: int | None = None
    buy_max_cost: Decimal | None = None

    @property
    def bought_side(self) -> Side:
        """The side whose contracts this order acquires."""
        return self.side if self.action == "buy" else other_side(self.side)

    @property
    def bought_limit(self) -> int:
        """Worst price, in mills of `bought_side`, the order accepts."""
        return self.limit if self.action == "buy" else ONE_DOLLAR_MILLS - self.limit

    @property
    def yes_limit(self) -> int:
        return self.limit if self.side == "yes" else ONE_DOLLAR_MILLS - self.limit

    @property
    def book_side(self) -> BookSide:
        return "bid" if self.bought_side == "yes" else "ask"


def parse_v2_ticket(body: Any) -> OrderTicket:
    """A `CreateOrderV2Request`: side bid/ask on the YES book, count and price as strings."""
    body = _object(body)
    book_side = _choice(body, "side", BOOK_SIDES)
    time_in_force = _choice(body, "time_in_force", TIMES_IN_FORCE)
    stp = _choice(body, "self_trade_prevention_type", SELF_TRADE_PREVENTION)
    yes_price = _mills(_string(body, "price"), "price")
    expiration = body.get("expiration_time")
    if expiration is not None:
        if isinstance(expiration, bool) or not isinstance(expiration, int):
            raise bad_request("invalid_parameters", "expiration_time must be an integer")
        if time_in_force != GOOD_TILL_CANCELED:
            raise bad_request(
                "invalid_parameters", "expiration_time needs time_in_force good_till_canceled"
            )
    reduce_only = _flag(body, "reduce_only")
    if reduce_only and time_in_force != IMMEDIATE_OR_CANCEL:
        raise bad_request("invalid_parameters", "reduce_only orders must be immediate_or_cancel")
    side: Side = "yes" if book_side == "bid" else "no"
    return OrderTicket(
        ticker=_ticker(body),
        client_order_id=_client_order_id(body),
        side=side,
        action="buy",
        count=_count(_string(body, "count")),
        limit=yes_price if side == "yes" else ONE_DOLLAR_MILLS - yes_price,
        time_in_force=time_in_force,
        post_only=_flag(body, "post_only"),
        reduce_only=reduce_only,
        order_group_id=_optional_text(body, "order_group_id"),
        cancel_order_on_pause=_flag(body, "cancel_order_on_pause"),
        self_trade_prevention_type=stp,
        expiration_ts=expiration,
    )


def parse_legacy_ticket(body: Any) -> OrderTicket:
    """The legacy `CreateOrderRequest` (side yes/no, action buy/sell, one price field)."""
    body = _object(body)
    side = _choice(body, "side", ("yes", "no"))
    action = _choice(body, "action", ("buy", "sell"))
    _choice(body, "type", ("limit",), default="limit")
    max_cost = body.get("buy_max_cost")
    if max_cost is not None and (isinstance(max_cost, bool) or not isinstance(max_cost, int)):
        raise bad_request("invalid_parameters", "buy_max_cost must be an integer")
    time_in_force = _choice(body, "time_in_force", TIMES_IN_FORCE, default=GOOD_TILL_CANCELED)
    return OrderTicket(
        ticker=_ticker(body),
        client_order_id=_client_order_id(body),
        side=side,
        action=action,
        count=_legacy_count(body),
        limit=_legacy_limit(body, side),
        time_in_force=FILL_OR_KILL if max_cost is not None else time_in_force,
        post_only=_flag(body, "post_only"),
        buy_max_cost=None if max_cost is None else Decimal(max_cost) / 100,
    )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("invalid_parameters", "the body must be a JSON object")
    return body


def _ticker(body: dict[str, Any]) -> str:
    ticker = body.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise bad_request("invalid_parameters", "ticker is required")
    return ticker


def _client_order_id(body: dict[str, Any]) -> str:
    value = body.get("client_order_id") or ""
    if not isinstance(value, str) or len(value) > MAX_CLIENT_ORDER_ID:
        raise bad_request("invalid_parameters", "client_order_id must be a string of <= 64")
    return value


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None
) -> Any:
    value = body.get(name, default) or default
    if value not in allowed:
        raise bad_request("invalid_parameters", f"{name} must be one of {allowed}")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request("invalid_parameters", f"{name} must be a boolean")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise bad_request("invalid_parameters", f"{name} must be a non-empty string")
    return value


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise bad_request("invalid_parameters", f"{name} must be a fixed-point string")
    return value


def _decimal(text: str, name: str, code: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise bad_request(code, f"{name} is not a number: {text!r}") from exc
    if not value.is_finite():
        raise bad_request(code, f"{name} is not finite: {text!r}")
    return value


def _count(text: str) -> Decimal:
    """A count of at most two decimals, at least 0.01 (whole counts are checked per market)."""
    count = _decimal(text, "count", "invalid_count")
    if count != count.quantize(_HUNDREDTH) or count < _HUNDREDTH:
        raise bad_request("invalid_count", "count must be >= 0.01 with at most two decimals")
    return count.quantize(_HUNDREDTH)


def _legacy_count(body: dict[str, Any]) -> Decimal:
    count, fixed_point = body.get("count"), body.get("count_fp")
    if isinstance(fixed_point, str):
        return _count(fixed_point)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise bad_request("invalid_count", "count must be an integer >= 1")
    return Decimal(count)


def _mills(text: str, name: str) -> int:
    """A dollar price string as mills; finer than a tenth of a cent is never a price."""
    price = _decimal(text, name, "invalid_price")
    mills = price / _MILL
    if mills != mills.to_integral_value() or not 0 < mills < ONE_DOLLAR_MILLS:
        raise bad_request("invalid_price", f"{name} {text!r} is not a price within (0, 1)")
    return int(mills)


def _legacy_limit(body: dict[str, Any], side: Side) -> int:
    """The limit in mills of `side`, from whichever one price field was sent."""
    given = [name for name in _LEGACY_PRICE_FIELDS if body.get(name) is not None]
    if len(given) != 1:
        raise bad_request("invalid_price", "send exactly one of " + ", ".join(_LEGACY_PRICE_FIELDS))
    name = given[0]
    value = body[name]
    if name.endswith("_dollars"):
        mills = _mills(str(value), name)
    elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
        raise bad_request("invalid_price", "cent prices must be integers within 1..99")
    else:
        mills = value * MILLS_PER_CENT
    return mills if name.startswith(side) else ONE_DOLLAR_MILLS - mills
