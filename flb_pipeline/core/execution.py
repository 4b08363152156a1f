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
from flb_pipeline.core.records import ONE_DOLLAR, BookLevel, Count, Fill, OrderIntent, Side
from flb_pipeline.core.ticks import OffTick, PriceLevels

ORDER_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-4e8f-9a51-2c0d8e7b6a90")
TAKER, MAKER = "taker", "maker"


def client_order_id(scan_id: str, ticker: str, side: Side) -> str:
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{scan_id}:{ticker}:{side}"))


def order_intent(
    scan_id: str,
    ticker: str,
    side: Side,
    contracts: Count,
    decision_price: Decimal,
    levels: PriceLevels,
    *,
    style: str = TAKER,
    limit_slippage_cents: int = 0,
) -> OrderIntent:
    """Taker: IOC at the ask (plus a tolerance). Maker: post-only GTC one tick inside it.

    Prices come from the market's own grid; one that is not on it is a bug on our side and
    raises `OffTick`, naming the tick, before anything is sent.
    """
    cid = client_order_id(scan_id, ticker, side)
    if style == MAKER:
        inside = levels.tick_below(decision_price)
        if inside is None:
            raise OffTick(
                f"no price one tick below {decision_price} on the {levels.structure} grid"
            )
        return OrderIntent(
            cid, ticker, side, "buy", contracts, levels.require_on_tick(inside),
            time_in_force="good_till_canceled", post_only=True,
        )  # fmt: skip
    limit = levels.require_on_tick(taker_limit(decision_price, limit_slippage_cents, levels))
    return OrderIntent(cid, ticker, side, "buy", contracts, limit)


def taker_limit(ask: Decimal, slippage_cents: int, levels: PriceLevels) -> Decimal:
    """The worst price a taker order accepts: the ask plus the allowed slippage, on the
    market's grid and below $1 (an ask already on the grid is kept as it is)."""
    if slippage_cents <= 0:
        return ask
    highest = levels.tick_below(ONE_DOLLAR)
    wanted = ask + slippage_cents * CENT
    if highest is not None and wanted > highest:
        wanted = highest
    return max(ask, levels.floor(wanted) or ask)


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
    taken: list[tuple[Count, Decimal]] = []
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
