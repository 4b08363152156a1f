"""Order entry through Kalshi's V2 endpoints, the half of `KalshiClient` that moves money.

An order is a bid or an ask on the market's YES book (`order_sides`), sent alone or in
batches of up to 20, under the cycle's order group. Creation is retried only with the same
`client_order_id`; an order whose answer was lost, unreadable or named no order id is looked
up by that id before the caller hears anything but a definite outcome. `OrderEntry` is mixed
into `KalshiClient`, whose transport (`_request`, `_get`) and order listing it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flb_pipeline.core.records import Count, ExchangeOrder, OrderGroup, OrderIntent
from flb_pipeline.exchange import schema, schema_exchange
from flb_pipeline.exchange.errors import (
    AuthRejected,
    ExchangeError,
    MalformedResponse,
    OrderOutcomeUnknown,
    RateLimited,
    RequestRejected,
    SchemaError,
)
from flb_pipeline.exchange.order_sides import to_book_order
from flb_pipeline.exchange.responses import list_field

DUPLICATE_ORDER = "order_already_exists"
ORDER_BATCH = 20
"""Kalshi takes at most 20 orders per batched create."""
SELF_TRADE_PREVENTION = "taker_at_cross"


class OrderNotPlaced(ExchangeError):
    """Every attempt was refused before processing (429) and the lookup shows no order."""

    error_class = "order_not_placed"


class OrderEntry:
    """Orders, cancels and order groups; mixed into `KalshiClient`."""

    if TYPE_CHECKING:

        def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...

        def _get(self, path: str, **kwargs: Any) -> dict[str, Any]: ...

        def orders(self, *, ticker: str | None = None) -> list[ExchangeOrder]: ...

    def order(self, order_id: str) -> ExchangeOrder:
        body = self._get("/portfolio/orders/{order_id}", order_id=order_id)
        return schema.exchange_order(schema.required(body, "order"))

    def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None:
        """The exchange's order carrying `client_order_id`, if it ever arrived."""
        for order in self.orders(ticker=ticker):
            if order.client_order_id == client_order_id:
                return order
        return None

    def create_order(self, intent: OrderIntent) -> ExchangeOrder:
        """Send one V2 limit order; retried only with the same client_order_id.

        Raises `RequestRejected` with the exchange's reason, `OrderNotPlaced` when the
        exchange answered every attempt with 429 (refused before processing), and
        `OrderOutcomeUnknown` when the order may or may not be there: a lookup that finds
        nothing right after a timeout or a 5xx proves nothing, since the exchange may still
        process the request. Unknown orders are resolved later by client_order_id.
        """
        try:
            body = self._request("POST", "/portfolio/events/orders", json_body=order_body(intent))
            return self._created(intent, body)
        except RequestRejected as rejected:
            if rejected.status != 409 or rejected.code != DUPLICATE_ORDER:
                raise
            cause: ExchangeError = rejected
        except ExchangeError as failure:
            if isinstance(failure, AuthRejected):
                raise
            cause = failure
        return self._resolve_order(intent, cause)

    def create_orders(self, intents: Sequence[OrderIntent]) -> list[ExchangeOrder | ExchangeError]:
        """Several orders through the batched endpoint, 20 per request, each answered on its
        own (an order or the reason it failed), in the order given. A batch whose answer is
        lost is resolved order by order, by client_order_id, exactly like a single order."""
        results: list[ExchangeOrder | ExchangeError] = []
        for first in range(0, len(intents), ORDER_BATCH):
            batch = list(intents[first : first + ORDER_BATCH])
            results.extend(self._create_batch(batch))
        return results

    def _create_batch(self, intents: list[OrderIntent]) -> list[ExchangeOrder | ExchangeError]:
        try:
            body = self._request(
                "POST",
                "/portfolio/events/orders/batched",
                json_body={"orders": [order_body(intent) for intent in intents]},
                cost=len(intents),
            )
            answers = list_field(body, "orders")
            if len(answers) != len(intents):
                raise MalformedResponse(
                    f"batched create answered {len(answers)} orders for {len(intents)}"
                )
        except AuthRejected:
            raise
        except ExchangeError as failure:
            return [self._resolved_or_error(intent, failure) for intent in intents]
        return [
            self._batch_answer(intent, schema.mapping(answer, "orders"))
            for intent, answer in zip(intents, answers, strict=True)
        ]

    def _batch_answer(self, intent: OrderIntent, answer: Any) -> ExchangeOrder | ExchangeError:
        error = answer.get("error")
        if error:
            error = schema.mapping(error, "error")
            rejected = RequestRejected(
                400, str(error.get("code", "unknown")), str(error.get("message", ""))
            )
            if rejected.code != DUPLICATE_ORDER:
                return rejected
            return self._resolved_or_error(intent, rejected)
        try:
            return self._created(intent, answer)
        except SchemaError as unreadable:
            return self._resolved_or_error(intent, unreadable)

    def _resolved_or_error(self, intent: OrderIntent, cause: ExchangeError) -> Any:
        try:
            return self._resolve_order(intent, cause)
        except ExchangeError as unresolved:
            return unresolved

    def _created(self, intent: OrderIntent, body: dict[str, Any]) -> ExchangeOrder:
        """A created order from its V2 answer; one that names no order id is an unknown
        outcome, resolved by client_order_id like a lost answer."""
        if not body.get("order_id"):
            raise OrderOutcomeUnknown(
                f"order {intent.client_order_id} on {intent.ticker}: the answer has no order_id"
            )
        return schema_exchange.created_order(intent, body)

    def cancel_order(self, order_id: str) -> ExchangeOrder:
        """Cancel a resting order (V2) and return it as the exchange now holds it."""
        self._request("DELETE", "/portfolio/events/orders/{order_id}", order_id=order_id)
        return self.order(order_id)

    def cancel_all_orders(self) -> None:
        """Cancel every resting order of the account (the manual halt's first act)."""
        self._request("DELETE", "/portfolio/events/orders")

    # -- order groups --------------------------------------------------------------------

    def create_order_group(self, contracts_limit: Count) -> str:
        """A new order group: the exchange cancels its orders and refuses new ones once more
        than `contracts_limit` contracts fill within 15 s, until it is reset."""
        body = self._request(
            "POST",
            "/portfolio/order_groups/create",
            json_body={"contracts_limit_fp": count_text(contracts_limit)},
        )
        return schema.text(body, "order_group_id")

    def order_group(self, order_group_id: str) -> OrderGroup:
        body = self._get("/portfolio/order_groups/{order_group_id}", order_group_id=order_group_id)
        return schema_exchange.order_group(order_group_id, body)

    def reset_order_group(self, order_group_id: str) -> None:
        self._request(
            "PUT", "/portfolio/order_groups/{order_group_id}/reset", order_group_id=order_group_id
        )

    def _resolve_order(self, intent: OrderIntent, cause: ExchangeError) -> ExchangeOrder:
        label = f"order {intent.client_order_id} on {intent.ticker}"
        try:
            found = self.find_order(intent.client_order_id, intent.ticker)
        except ExchangeError as lookup_failure:
            raise OrderOutcomeUnknown(
                f"{label}: POST failed ({cause}) and the lookup failed ({lookup_failure})"
            ) from cause
        if found is not None:
            return found
        if isinstance(cause, RateLimited):
            raise OrderNotPlaced(f"{label} was refused with 429 on every attempt") from cause
        raise OrderOutcomeUnknown(
            f"{label}: POST failed ({cause}) and the exchange does not show it yet"
        ) from cause


def order_body(intent: OrderIntent) -> dict[str, Any]:
    """A `CreateOrderV2Request`: our side and price become a bid or an ask on the YES book,
    count and price fixed-point strings."""
    book_side, yes_price = to_book_order(intent.side, intent.action, intent.limit_price)
    body: dict[str, Any] = {
        "ticker": intent.ticker,
        "client_order_id": intent.client_order_id,
        "side": book_side,
        "count": count_text(intent.contracts),
        "price": f"{yes_price:.4f}",
        "time_in_force": intent.time_in_force,
        "self_trade_prevention_type": SELF_TRADE_PREVENTION,
        "cancel_order_on_pause": intent.cancel_order_on_pause,
    }
    if intent.post_only:
        body["post_only"] = True
    if intent.order_group_id:
        body["order_group_id"] = intent.order_group_id
    return body


def count_text(contracts: Count) -> str:
    return f"{Decimal(contracts):.2f}"
