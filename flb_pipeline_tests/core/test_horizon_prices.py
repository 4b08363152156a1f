import numpy as np
import pytest

from flb_pipeline.core.horizon_prices import (
    HorizonCount,
    HorizonQuotes,
    PriceTolerance,
    horizon_points,
)

CLOSE = 100_000.0
NAN = float("nan")


def quotes(rows: list[tuple]) -> HorizonQuotes:
    """rows: (event, open_ts, horizon_s, candle_ts, yes_bid, yes_ask), all closing at CLOSE."""
    columns = [np.array(column) for column in zip(*rows, strict=True)]
    event, open_ts, horizon, candle, bid, ask = columns
    n = len(rows)
    return HorizonQuotes(
        event=event.astype(object),
        family=np.array(["weather"] * n, dtype=object),
        outcome=np.ones(n, dtype=int),
        open_ts=open_ts.astype(float),
        close_ts=np.full(n, CLOSE),
        horizon_s=horizon.astype(float),
        candle_ts=candle.astype(float),
        yes_bid=bid.astype(float),
        yes_ask=ask.astype(float),
    )


def test_each_horizon_uses_only_a_recent_two_sided_candle_and_counts_what_it_skips():
    rows = [
        ("E1", 0, 300, CLOSE - 330, 0.90, 0.92),  # used: 30 s older than the moment
        ("E1", 0, 1800, CLOSE - 1800, 0.80, 0.84),  # used: exactly at the moment
        ("E2", 0, 300, CLOSE - 300 - 121, 0.90, 0.92),  # gap: older than 2 minutes
        ("E2", 0, 1800, NAN, NAN, NAN),  # gap: no candle at all before the moment
        ("E3", 0, 300, CLOSE - 300, NAN, 0.95),  # missing price: one-sided
        ("E3", 0, 1800, CLOSE - 1900, 0.10, NAN),  # missing price: one-sided
        ("E4", CLOSE - 600, 1800, NAN, NAN, NAN),  # not open 30 minutes before close
    ]

    sample, counts = horizon_points(quotes(rows), [300.0, 1800.0], PriceTolerance(0.1, 120.0))

    assert sample.price.tolist() == pytest.approx([0.91, 0.82])
    assert sample.seconds_to_close.tolist() == [330.0, 1800.0]  # the candle's, not nominal
    assert sample.event.tolist() == ["E1", "E1"]
    assert (sample.yes_bid.tolist(), sample.yes_ask.tolist()) == ([0.90, 0.80], [0.92, 0.84])
    assert counts == [
        HorizonCount(300.0, markets=3, used=1, gaps=1, missing_prices=1),
        HorizonCount(1800.0, markets=3, used=1, gaps=1, missing_prices=1),
    ]


def test_the_tolerance_grows_with_the_horizon():
    day = 86_400
    rows = [("E1", -30 * day, 14 * day, CLOSE - 14 * day - 3600, 0.4, 0.42)]  # an hour-old candle

    sample, (count,) = horizon_points(quotes(rows), [14.0 * day], PriceTolerance(0.1, 120.0))

    assert count.used == 1 and len(sample) == 1
    strict, (strict_count,) = horizon_points(quotes(rows), [14.0 * day], PriceTolerance(0, 120))
    assert len(strict) == 0 and strict_count.gaps == 1


def test_a_horizon_without_any_market_that_old_counts_nothing():
    rows = [("E1", CLOSE - 600, 300, CLOSE - 300, 0.5, 0.52)]

    _, counts = horizon_points(quotes(rows), [300.0, 3600.0], PriceTolerance())

    assert counts[1] == HorizonCount(3600.0, markets=0, used=0, gaps=0, missing_prices=0)


def test_tolerances_must_not_be_negative():
    with pytest.raises(ValueError, match=">= 0"):
        PriceTolerance(-0.1, 120.0)
