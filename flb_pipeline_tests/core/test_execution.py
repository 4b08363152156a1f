import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from flb_pipeline.core.execution import (
    MAKER,
    client_order_id,
    order_intent,
    paper_fills,
    paper_order_id,
)
from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.records import BookLevel
from flb_pipeline.core.ticks import LINEAR, TAPERED_DECI_CENT, OffTick, PriceLevels

D = Decimal
AT = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
TAPERED = PriceLevels.of(TAPERED_DECI_CENT)
ASKS = (BookLevel(D("0.90"), 30), BookLevel(D("0.91"), 50), BookLevel(D("0.93"), 100))


def test_client_order_id_is_a_uuid_fixed_by_scan_ticker_and_side():
    first = client_order_id("scan-1", "KXHIGHNY-26NOV29-B50", "yes")
    assert first == client_order_id("scan-1", "KXHIGHNY-26NOV29-B50", "yes")
    assert uuid.UUID(first).version == 5
    others = {
        client_order_id("scan-2", "KXHIGHNY-26NOV29-B50", "yes"),
        client_order_id("scan-1", "KXHIGHNY-26NOV29-B51", "yes"),
        client_order_id("scan-1", "KXHIGHNY-26NOV29-B50", "no"),
    }
    assert first not in others and len(others) == 3


def test_taker_intent_is_ioc_at_the_ask_plus_slippage_clamped_below_a_dollar():
    intent = order_intent("s", "T", "yes", 12, D("0.90"), LINEAR, limit_slippage_cents=2)
    assert (intent.limit_price, intent.contracts, intent.action) == (D("0.92"), 12, "buy")
    assert intent.time_in_force == "immediate_or_cancel" and not intent.post_only
    clamped = order_intent("s", "T", "yes", 12, D("0.98"), LINEAR, limit_slippage_cents=5)
    assert clamped.limit_price == D("0.99")
    tapered = order_intent("s", "T", "yes", 12, D("0.985"), TAPERED, limit_slippage_cents=5)
    assert tapered.limit_price == D("0.999")


def test_maker_intent_rests_post_only_one_tick_inside_the_ask():
    intent = order_intent("s", "T", "no", 7, D("0.90"), LINEAR, style=MAKER)
    assert (intent.limit_price, intent.time_in_force, intent.post_only) == (
        D("0.89"),
        "good_till_canceled",
        True,
    )
    assert order_intent("s", "T", "no", 7, D("0.935"), TAPERED, style=MAKER).limit_price == D(
        "0.934"
    )
    with pytest.raises(OffTick, match=r"no price one tick below 0\.01"):
        order_intent("s", "T", "no", 7, D("0.01"), LINEAR, style=MAKER)


def test_an_off_tick_price_from_our_side_is_caught_before_sending_with_the_tick_named():
    with pytest.raises(OffTick, match=r"0.935 is off the linear_cent grid \(tick 0.01\)"):
        order_intent("s", "T", "yes", 5, D("0.935"), LINEAR)
    assert order_intent("s", "T", "yes", 5, D("0.935"), TAPERED).limit_price == D("0.935")


def test_paper_fills_walk_the_book_up_to_the_limit_with_accumulated_fees():
    intent = order_intent("s", "T", "yes", 60, D("0.90"), LINEAR, limit_slippage_cents=1)
    fills = paper_fills(intent, ASKS, FeeSchedule(), AT)
    assert [(f.contracts, f.price) for f in fills] == [(30, D("0.90")), (30, D("0.91"))]
    # trade fees 0.1890 and 0.1720; each balance change floors to the cent: 0.19 and 0.18
    assert [f.fee for f in fills] == [D("0.19"), D("0.18")]
    assert all(f.order_id == paper_order_id(intent.client_order_id) for f in fills)
    assert len({f.fill_id for f in fills}) == 2 and all(f.is_taker for f in fills)


def test_paper_fills_stop_at_the_limit_and_never_exceed_the_order():
    intent = order_intent("s", "T", "yes", 500, D("0.91"), LINEAR)
    fills = paper_fills(intent, ASKS, FeeSchedule(), AT)
    assert sum(f.contracts for f in fills) == 80
    assert max(f.price for f in fills) == D("0.91")
    small = paper_fills(
        order_intent("s", "T", "yes", 5, D("0.95"), LINEAR), ASKS, FeeSchedule(), AT
    )
    assert [(f.contracts, f.price) for f in small] == [(5, D("0.90"))]


def test_a_post_only_maker_order_does_not_fill_on_paper():
    intent = order_intent("s", "T", "yes", 10, D("0.95"), LINEAR, style=MAKER)
    assert paper_fills(intent, ASKS, FeeSchedule(), AT) == []
