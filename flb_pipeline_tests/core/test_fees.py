from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from flb_pipeline.core.fees import (
    CENTICENT,
    FeeChange,
    FeeLeg,
    FeeSchedule,
    UnsupportedFeeType,
    ceil_to_cent,
    fill_fee_components,
    schedule_at,
    schedules_of,
    taker_fee,
    winnings_fee,
)
from flb_pipeline.core.records import SeriesInfo

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
def test_one_taker_fill_pays_its_fee_rounded_up_to_the_cent(contracts, price, fee):
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
    pieces = schedule.order_fill_fees([FeeLeg(1, D("0.95"))] * 10)
    assert sum(pieces) == schedule.taker_fee(10, D("0.95")) == D("0.04")
    assert pieces[0] == D("0.01") and all(piece >= 0 for piece in pieces)


def test_order_fill_fees_across_price_levels_round_once():
    schedule = FeeSchedule()
    pieces = schedule.order_fill_fees([FeeLeg(60, D("0.95")), FeeLeg(40, D("0.96"))])
    raw = D("0.07") * (60 * D("0.95") * D("0.05") + 40 * D("0.96") * D("0.04"))
    assert sum(pieces) == ceil_to_cent(raw) == D("0.31")


def test_maker_fills_of_a_taker_order_join_the_same_accumulator():
    schedule = FeeSchedule("quadratic_with_maker_fees")
    pieces = schedule.order_fill_fees([FeeLeg(10, D("0.50")), FeeLeg(10, D("0.50"), False)])
    assert sum(pieces) == ceil_to_cent(D("0.175") + D("0.04375")) == D("0.22")


def test_unknown_and_flat_fee_types_are_refused_not_guessed():
    for fee_type in ("flat", "per_contract_2031"):
        with pytest.raises(UnsupportedFeeType):
            FeeSchedule(fee_type)
    series = {
        "A": SeriesInfo("A", "", "", "flat", D(1)),
        "B": SeriesInfo("B", "", "", "quadratic_with_combo_maker_fees", D(1)),
    }
    assert schedules_of(series) == {"A": None, "B": FeeSchedule("quadratic_with_combo_maker_fees")}


def test_combo_maker_fees_are_half_the_taker_rate():
    combo = FeeSchedule("quadratic_with_combo_maker_fees")
    assert combo.maker_fee(100, D("0.50")) == D("0.88")  # 0.035 x 25 = 0.875, up to 0.88
    assert combo.taker_fee(100, D("0.50")) == D("1.75")


def given_fee(amount: str):
    """Kalshi's worked examples state each fill's trade fee instead of deriving it."""
    return lambda leg: D(amount)


KALSHI_EXAMPLES = [
    # (legs, stated trade fee, per-fill (rounding, rebate, net fee)), from Kalshi's fee
    # rounding page, at a $0.01 account precision
    (
        [FeeLeg(1, D("0.055"))] * 3,
        "0.0085",
        [("0.0065", "0", "0.0150"), ("0.0065", "0.01", "0.0050"), ("0.0065", "0", "0.0150")],
    ),
    (
        [FeeLeg(D("0.30"), D("0.50"))] * 3,
        "0.0041",
        [("0.0059", "0", "0.0100"), ("0.0059", "0.01", "0.0000"), ("0.0059", "0", "0.0100")],
    ),
    (
        [FeeLeg(D("0.03"), D("0.3301"))] * 3,
        "0.0005",
        [
            ("0.009597", "0", "0.010097"),
            ("0.009597", "0.01", "0.000097"),
            ("0.009597", "0.01", "0.000097"),
        ],
    ),
]


@pytest.mark.parametrize(("legs", "trade_fee", "expected"), KALSHI_EXAMPLES)
def test_fee_rounding_reproduces_kalshis_worked_examples(legs, trade_fee, expected):
    charges = fill_fee_components(given_fee(trade_fee), legs)
    assert [(c.rounding_fee, c.rebate, c.net) for c in charges] == [
        (D(r), D(b), D(n)) for r, b, n in expected
    ]
    for charge, leg in zip(charges, legs, strict=True):  # the balance stays in whole cents
        assert (leg.revenue - charge.net) % D("0.01") == 0


def test_a_tapered_favourite_bought_at_0_935_pays_the_exact_fee():
    """100 at $0.935: 0.07 x 100 x 0.935 x 0.065 = $0.425425, up to $0.4255; the balance
    change -$93.9255 floors to -$93.93, so the fee is $0.43."""
    assert taker_fee(100, D("0.935")) == D("0.43")
    direct = FeeSchedule().taker_fee(100, D("0.935"), precision=CENTICENT)
    assert direct == D("0.4255")


def test_scheduled_fee_changes_apply_from_their_time_and_waivers_until_theirs():
    now = datetime(2026, 12, 1, 15, tzinfo=UTC)
    change = FeeChange("KXHIGHNY", "quadratic_with_maker_fees", D(2), now)
    base = FeeSchedule()
    before = schedule_at("KXHIGHNY", base, [change], now - timedelta(seconds=1))
    assert before == base
    after = schedule_at("KXHIGHNY", base, [change], now)
    assert after == FeeSchedule("quadratic_with_maker_fees", D(2))
    assert schedule_at("KXOTHER", base, [change], now) == base
    waived = schedule_at("KXHIGHNY", base, [], now, waiver_expires=now + timedelta(hours=1))
    assert waived.taker_fee(100, D("0.50")) == D(0)
    assert schedule_at("KXHIGHNY", base, [], now, waiver_expires=now) == base
    flat = FeeChange("KXHIGHNY", "flat", D(1), now)
    assert schedule_at("KXHIGHNY", base, [flat], now) is None


def test_winnings_fee_model_for_comparison():
    assert winnings_fee(100, D("0.95")) == D("0.35")
    assert winnings_fee(1, D("0.95")) == D("0.01")
