"""From a sized candidate to an order, and paper fills against a recorded book.

The client_order_id is derived from scan, ticker and side, so a retried or re-executed cycle
produces the same id and the exchange (or our own order table) refuses the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from flb_pipeline.core.fees import CENT, FeeLeg, FeeSchedule
from flb_pipeline.core.records import BookLevel, Fill, OrderIntent, Side

ORDER_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-4e8f-9a51-2c0d8e7b6a90")
MIN_PRICE, MAX_PRICE = Decimal("0.01"), Decimal("0.99")
TAKER, MAKER = "taker", "maker"


def client_order_id(scan_id: str, ticker: str, side: Side) -> str:
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{scan_id}:{ticker}:{side}"))


def order_intent(
    scan_id: str,
    ticker: str,
    side: Side,
    contracts: int,
    decision_price: Decimal,
    *,
    style: str = TAKER,
    limit_slippage_cents: int = 0,
) -> OrderIntent:
    """Taker: IOC at the ask (plus a tolerance). Maker: post-only GTC one tick inside it."""
    if style == MAKER:
        limit = max(MIN_PRICE, decision_price - CENT)
        return OrderIntent(
            client_order_id(scan_id, ticker, side), ticker, side, "buy", contracts, limit,
            time_in_force="good_till_canceled", post_only=True,
        )  # fmt: skip
    limit = taker_limit(decision_price, limit_slippage_cents)
    return OrderIntent(
        client_order_id(scan_id, ticker, side), ticker, side, "buy", contracts, limit
    )


def taker_limit(ask: Decimal, slippage_cents: int) -> Decimal:
    """The worst price a taker order accepts: the ask plus the allowed slippage."""
    return min(MAX_PRICE, ask + slippage_cents * CENT)


def paper_fills(
    intent: OrderIntent,
    asks: Sequence[BookLevel],
    schedule: FeeSchedule,
    at: datetime,
) -> list[Fill]:
    """Fill a buy against the recorded asks, cheapest first, up to its limit and count.

    Fees follow the exchange's per-order accumulator, so paper and live P&L agree to the cent.
    A post-only maker order never crosses, so on paper it does not fill at decision time.
    """
    if intent.post_only:
        return []
    taken: list[tuple[int, Decimal]] = []
    remaining = intent.contracts
    for level in asks:
        if remaining == 0 or level.price > intent.limit_price:
            break
        quantity = min(remaining, level.contracts)
        taken.append((quantity, level.price))
        remaining -= quantity
    fees = schedule.order_fill_fees(FeeLeg(quantity, price) for quantity, price in taken)
    order_id = paper_order_id(intent.client_order_id)
    return [
        Fill(
            fill_id=f"{order_id}:{index}",
            order_id=order_id,
            client_order_id=intent.client_order_id,
            ticker=intent.ticker,
            side=intent.side,
            action=intent.action,
            contracts=quantity,
            price=price,
            fee=fee,
            is_taker=True,
            created_time=at,
        )
        for index, ((quantity, price), fee) in enumerate(zip(taken, fees, strict=True))
    ]


def paper_order_id(client_order_id: str) -> str:
    return f"paper:{client_order_id}"
