from decimal import Decimal

import pytest

from flb_pipeline.core.fees import (
    FeeSchedule,
    UnsupportedFeeType,
    ceil_to_cent,
    taker_fee,
    winnings_fee,
)

D = Decimal


@pytest.mark.parametrize(
    ("contracts", "price", "fee"),
    [
        (1, "0.95", "0.01"),  # 20% of the 5c upside
        (10, "0.95", "0.04"),
        (100, "0.95", "0.34"),
        (100, "0.50", "1.75"),
        (1, "0.50", "0.02"),
        (10, "0.50", "0.18"),
        (100, "0.05", "0.34"),
        (100, "0.90", "0.63"),
        (7, "0.87", "0.06"),
        (1, "0.01", "0.01"),
    ],
)
def test_taker_fee_is_rounded_up_to_the_cent_per_order(contracts, price, fee):
    assert taker_fee(contracts, D(price)) == D(fee)


@pytest.mark.parametrize(
    ("fee_type", "contracts", "price", "fee"),
    [
        ("quadratic_with_maker_fees", 100, "0.50", "0.44"),
        ("quadratic_with_maker_fees", 100, "0.95", "0.09"),
        ("quadratic_with_maker_fees", 1, "0.95", "0.01"),
        ("quadratic", 100, "0.50", "0.00"),
    ],
)
def test_maker_fee_only_on_series_with_maker_fees(fee_type, contracts, price, fee):
    assert FeeSchedule(fee_type).maker_fee(contracts, D(price)) == D(fee)


def test_fee_multiplier_scales_before_rounding():
    assert FeeSchedule("quadratic", D("0.5")).taker_fee(100, D("0.50")) == D("0.88")
    assert taker_fee(100, D("0.50"), D(2)) == D("3.50")


def test_order_fill_fees_total_equals_one_equivalent_fill():
    schedule = FeeSchedule()
    pieces = schedule.order_fill_fees([(1, D("0.95"), True)] * 10)
    assert sum(pieces) == schedule.taker_fee(10, D("0.95")) == D("0.04")
    assert pieces[0] == D("0.01") and all(piece >= 0 for piece in pieces)


def test_order_fill_fees_across_price_levels_round_once():
    schedule = FeeSchedule()
    pieces = schedule.order_fill_fees([(60, D("0.95"), True), (40, D("0.96"), True)])
    raw = D("0.07") * (60 * D("0.95") * D("0.05") + 40 * D("0.96") * D("0.04"))
    assert sum(pieces) == ceil_to_cent(raw) == D("0.31")


def test_maker_fills_of_a_taker_order_join_the_same_accumulator():
    schedule = FeeSchedule("quadratic_with_maker_fees")
    pieces = schedule.order_fill_fees([(10, D("0.50"), True), (10, D("0.50"), False)])
    assert sum(pieces) == ceil_to_cent(D("0.175") + D("0.04375")) == D("0.22")


def test_unknown_fee_type_is_refused_not_guessed():
    with pytest.raises(UnsupportedFeeType):
        FeeSchedule("flat")


def test_winnings_fee_model_for_comparison():
    assert winnings_fee(100, D("0.95")) == D("0.35")
    assert winnings_fee(1, D("0.95")) == D("0.01")
