"""Validation of `POST /portfolio/orders` bodies (Kalshi's CreateOrderRequest).

The result is an `OrderTicket` with the limit in whole cents of the order's own side, plus the
equivalent buy ("sell YES at p" is "buy NO at 100 - p") that matching and accounting use.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flb_pipeline.core.records import Action, Side, other_side
from flb_pipeline.exchange.simulator.errors import bad_request

IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
GOOD_TILL_CANCELED = "good_till_canceled"
FILL_OR_KILL = "fill_or_kill"
TIMES_IN_FORCE = (IMMEDIATE_OR_CANCEL, GOOD_TILL_CANCELED, FILL_OR_KILL)
_PRICE_FIELDS = ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars")


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """A validated limit order."""

    ticker: str
    client_order_id: str
    side: Side
    action: Action
    count: int
    limit: int
    time_in_force: str
    post_only: bool
    buy_max_cost: int | None

    @property
    def bought_side(self) -> Side:
        """The side whose contracts this order acquires."""
        return self.side if self.action == "buy" else other_side(self.side)

    @property
    def bought_limit(self) -> int:
        """Worst price, in cents of `bought_side`, the order accepts."""
        return self.limit if self.action == "buy" else 100 - self.limit

    @property
    def yes_limit(self) -> int:
        return self.limit if self.side == "yes" else 100 - self.limit


def parse_ticket(body: Any) -> OrderTicket:
    if not isinstance(body, dict):
        raise bad_request("invalid_parameters", "the body must be a JSON object")
    side = _choice(body, "side", ("yes", "no"))
    action = _choice(body, "action", ("buy", "sell"))
    _choice(body, "type", ("limit",), default="limit")
    buy_max_cost = _optional_int(body, "buy_max_cost")
    time_in_force = _choice(body, "time_in_force", TIMES_IN_FORCE, default=GOOD_TILL_CANCELED)
    ticker = body.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise bad_request("invalid_parameters", "ticker is required")
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise bad_request("invalid_parameters", "client_order_id must be a string")
    return OrderTicket(
        ticker=ticker,
        client_order_id=client_order_id,
        side=side,
        action=action,
        count=_count(body.get("count")),
        limit=_limit_cents(body, side),
        time_in_force=FILL_OR_KILL if buy_max_cost is not None else time_in_force,
        post_only=bool(body.get("post_only", False)),
        buy_max_cost=buy_max_cost,
    )


def _choice(body: dict, name: str, allowed: tuple[str, ...], default: str | None = None) -> Any:
    value = body.get(name, default) or default
    if value not in allowed:
        raise bad_request("invalid_parameters", f"{name} must be one of {allowed}")
    return value


def _optional_int(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad_request("invalid_parameters", f"{name} must be an integer")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request("invalid_count", "count must be an integer >= 1")
    return value


def _limit_cents(body: dict, side: Side) -> int:
    """The limit in cents of `side`, from whichever one price field was sent."""
    given = [name for name in _PRICE_FIELDS if body.get(name) is not None]
    if len(given) != 1:
        raise bad_request("invalid_price", "send exactly one of " + ", ".join(_PRICE_FIELDS))
    name = given[0]
    cents = _cents(body[name], dollars=name.endswith("_dollars"))
    if not 1 <= cents <= 99:
        raise bad_request("invalid_price", "prices must be within 1..99 cents")
    return cents if name.startswith(side) else 100 - cents


def _cents(value: Any, *, dollars: bool) -> int:
    if not dollars:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request("invalid_price", "cent prices must be integers")
        return value
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation as exc:
        raise bad_request("invalid_price", f"not a dollar amount: {value!r}") from exc
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise bad_request("invalid_price", "prices must be whole cents")
    return int(amount)
