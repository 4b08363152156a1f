from decimal import Decimal

import pytest

from flb_pipeline.core.ticks import (
    DECI_CENT,
    LINEAR,
    TAPERED_DECI_CENT,
    OffTick,
    PriceLevels,
    PriceRange,
    UnsupportedPriceLevels,
)

D = Decimal
TAPERED = PriceLevels.of(TAPERED_DECI_CENT)


@pytest.mark.parametrize(
    ("levels", "price", "on_tick"),
    [
        (LINEAR, "0.93", True),
        (LINEAR, "0.935", False),
        (TAPERED, "0.935", True),
        (TAPERED, "0.055", True),
        (TAPERED, "0.555", False),
        (TAPERED, "0.55", True),
        (TAPERED, "0.90", True),
        (PriceLevels.of(DECI_CENT), "0.555", True),
        (TAPERED, "0.9355", False),
        (TAPERED, "1", False),
        (TAPERED, "0", False),
    ],
)
def test_which_prices_a_grid_accepts(levels, price, on_tick):
    assert levels.is_on_tick(D(price)) is on_tick


def test_a_maker_rests_one_tick_inside_the_ask():
    assert TAPERED.tick_below(D("0.935")) == D("0.934")
    assert TAPERED.tick_below(D("0.91")) == D("0.909")
    assert TAPERED.tick_below(D("0.90")) == D("0.89")  # below 90c the grid is cents
    assert TAPERED.tick_below(D("0.10")) == D("0.099")
    assert LINEAR.tick_below(D("0.95")) == D("0.94")
    assert LINEAR.tick_below(D("0.01")) is None
    assert TAPERED.tick_above(D("0.899")) == D("0.90")
    assert TAPERED.tick_above(D("0.999")) is None


def test_an_off_tick_price_is_caught_with_the_tick_named():
    with pytest.raises(OffTick, match=r"off the linear_cent grid \(tick 0.01\)"):
        LINEAR.require_on_tick(D("0.935"))
    assert TAPERED.require_on_tick(D("0.935")) == D("0.935")
    assert TAPERED.tick_at(D("0.50")) == D("0.01") and TAPERED.tick_at(D("0.95")) == D("0.001")


def test_published_ranges_win_and_unknown_structures_are_refused():
    custom = PriceLevels.of(TAPERED_DECI_CENT, (PriceRange(D("0.5"), D("1"), D("0.005")),))
    assert custom.is_on_tick(D("0.905")) and not custom.is_on_tick(D("0.904"))
    assert PriceLevels.of(None) == LINEAR
    with pytest.raises(UnsupportedPriceLevels):
        PriceLevels.of("center_deci_edge_centi_cent")
    assert LINEAR.floor(D("0.935")) == D("0.93") and TAPERED.floor(D("0.935")) == D("0.935")


def test_a_grid_round_trips_through_its_text_form():
    custom = PriceLevels.of(TAPERED_DECI_CENT, (PriceRange(D("0.5"), D("1"), D("0.005")),))
    for levels in (LINEAR, TAPERED, custom):
        assert PriceLevels.from_text(levels.as_text()) == levels
    assert TAPERED.as_text() == "tapered_deci_cent"
    assert PriceLevels.from_text("center_deci_edge_centi_cent") is None
    assert PriceLevels.from_text(None) == LINEAR
