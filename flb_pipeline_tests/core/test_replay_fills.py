"""How replayed orders fill: makers from recorded prints through the queue, takers against
the recorded book moved by the slippage model."""

from decimal import Decimal

import numpy as np

from flb_pipeline.core.fees import QUADRATIC_WITH_MAKER_FEES, FeeLeg, FeeSchedule
from flb_pipeline.core.records import BookLevel, OrderBook, OrderIntent
from flb_pipeline.core.replay_account import RestingOrder
from flb_pipeline.core.replay_fills import TradeTape, queue_ahead, quoted_book, slipped_asks
from flb_pipeline.core.replay_history import COUNT_UNITS, Trades
from flb_pipeline.core.ticks import LINEAR

D = Decimal
T0 = 1_772_460_000.0


def tape(*prints: tuple[float, int, int, bool]) -> TradeTape:
    """Prints of market 0: (seconds after T0, YES price in cents, contracts, taker bought YES)."""
    return TradeTape(
        Trades(
            ts=np.array([T0 + p[0] for p in prints]),
            market=np.zeros(len(prints), dtype=np.int64),
            yes_price=np.array([p[1] * 100 for p in prints], dtype=np.int32),
            count=np.array([p[2] * COUNT_UNITS for p in prints], dtype=np.int64),
            taker_bought_yes=np.array([p[3] for p in prints]),
        ),
        markets=1,
    )


def resting(side: str, price: str, contracts: int, queue: float, schedule=None) -> RestingOrder:
    intent = OrderIntent("cid-1", "T-1", side, "buy", contracts, D(price),
                         time_in_force="good_till_canceled", post_only=True)  # fmt: skip
    return RestingOrder(intent, 0, "G", schedule or FeeSchedule(), T0, queue)


def test_a_yes_bid_fills_only_once_sellers_have_traded_through_the_queue_ahead():
    order = resting("yes", "0.90", 50, queue=100)
    prints = tape(
        (10, 90, 60, False),  # sellers hit 90: 60 of the 100 ahead of us
        (20, 91, 500, False),  # above our price: the bids above us trade, not us
        (30, 92, 500, True),  # a buyer lifting the ask never trades with a bid
        (40, 89, 60, False),  # through our price: 20 beyond the queue reach us
        (50, 90, 100, False),  # 30 more fill us, the rest go elsewhere
    )
    assert prints.fill(order, T0 + 35) == []  # only 60 traded through so far
    first = prints.fill(order, T0 + 45)
    assert [(f.contracts, f.price, f.is_taker) for f in first] == [(20, D("0.90"), False)]
    rest = prints.fill(order, T0 + 100)
    assert [f.contracts for f in rest] == [30] and order.remaining == 0
    assert [f.fee for f in first + rest] == [D(0), D(0)]  # no maker fee on a quadratic series
    assert rest[0].created_time.timestamp() == T0 + 50


def test_a_no_bid_is_filled_by_buyers_of_yes_and_pays_the_maker_fee_where_charged():
    schedule = FeeSchedule(QUADRATIC_WITH_MAKER_FEES)
    order = resting("no", "0.88", 10, queue=0, schedule=schedule)
    # Buyers of YES at 0.11, 0.12, 0.13 hit NO bids at 0.89 (above ours: it trades first),
    # 0.88 (ours) and 0.87 (through ours).
    prints = tape((5, 11, 4, True), (6, 12, 8, True), (7, 13, 50, True))
    fills = prints.fill(order, T0 + 60)
    assert [f.contracts for f in fills] == [8, 2]
    assert fills[0].fee == schedule.maker_fee(8, D("0.88")) > 0
    legs = [FeeLeg(contracts, D("0.88"), is_taker=False) for contracts in (8, 2)]
    assert [f.fee for f in fills] == schedule.order_fill_fees(legs)


def test_queue_ahead_is_the_depth_at_or_above_the_price_and_nothing_when_improving():
    book = OrderBook("T-1", (BookLevel(D("0.90"), 120), BookLevel(D("0.89"), 300)), ())
    assert queue_ahead(D("0.90"), "yes", book) == 120
    assert queue_ahead(D("0.91"), "yes", book) == 0
    assert queue_ahead(D("0.89"), "yes", book) == 420


def test_without_a_recorded_book_the_quote_stands_for_assumed_depth_and_slippage_moves_it():
    book = quoted_book("T-1", yes_bid=9_000, no_bid=800, depth=100, recorded=None)
    assert book.asks("yes") == (BookLevel(D("0.9200"), 100),)
    moved = slipped_asks(book, "yes", 2, LINEAR)
    assert moved == [BookLevel(D("0.94"), 100)]
    assert slipped_asks(quoted_book("T-1", 9_000, 100, 5, None), "yes", 1, LINEAR) == []
