"""Unit tests of the pure pricing functions: truth, FLB distortion, quotes on each price grid,
background trades. Prices are mills (tenths of a cent)."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from flb_pipeline.core.ticks import DECI_CENT, LINEAR_CENT, TAPERED_DECI_CENT
from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID, grid, quotes_on_grid, step_below
from flb_pipeline.exchange.simulator.pricing import background_trades, flb_price, true_probability

BRACKETS_LO = np.array([-np.inf, -1.0, 1.0])
BRACKETS_HI = np.array([-1.0, 1.0, np.inf])


def test_bracket_probabilities_sum_to_one_and_collapse_towards_close() -> None:
    path = np.linspace(0.0, 3.0, 101)
    p = true_probability(path, BRACKETS_LO, BRACKETS_HI, sigma=2.0)
    assert p.shape == (3, 100)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    assert p[2, -1] > 0.999 and p[2, 0] < 0.5


def test_flb_distortion_matches_the_published_calibration() -> None:
    price = flb_price(np.array([0.95, 0.5, 0.05]), slope=1.09, intercept=0.02)
    recovered = 0.02 + 1.09 * logit(price)
    np.testing.assert_allclose(recovered, logit(np.array([0.95, 0.5, 0.05])), atol=1e-12)
    assert price[0] < 0.95 and price[2] > 0.05
    np.testing.assert_allclose(flb_price(np.array([0.3]), 1.0, 0.0), [0.3])


def test_cent_grid_quotes_are_whole_cents_with_empty_sides_beyond_the_range() -> None:
    bid, ask = quotes_on_grid(LINEAR_CENT, np.array([[0.5, 0.004, 0.999, 0.93]]), np.array([20]))
    assert bid.tolist() == [[490, NO_BID, 990, 920]]
    assert ask.tolist() == [[510, 10, NO_ASK, 940]]


def test_tapered_grid_quotes_tenths_of_a_cent_in_the_tails_only() -> None:
    """Where favourites trade, a tapered market quotes 0.1-cent steps; in between, cents."""
    bid, ask = quotes_on_grid(TAPERED_DECI_CENT, np.array([[0.9345, 0.5012]]), np.array([13]))
    assert bid.tolist() == [[928, 490]] and ask.tolist() == [[941, 510]]
    assert all(int(p) % 10 == 0 for p in grid(TAPERED_DECI_CENT) if 100 <= p <= 900)
    assert step_below(TAPERED_DECI_CENT, 901) == 900 and step_below(TAPERED_DECI_CENT, 900) == 890


def test_deci_cent_grid_has_every_tenth_of_a_cent() -> None:
    assert len(grid(DECI_CENT)) == 999 and len(grid(LINEAR_CENT)) == 99


def test_background_trades_print_at_the_quote_and_accumulate_volume() -> None:
    bid = np.full((2, 50), 400, dtype=np.int16)
    ask = np.full((2, 50), 430, dtype=np.int16)
    ask[1] = NO_ASK
    tape = background_trades(np.random.default_rng(1), bid, ask)
    traded = tape.count > 0
    assert set(tape.yes_price[traded].tolist()) <= {400, 430}
    assert set(tape.yes_price[1][tape.count[1] > 0].tolist()) == {400}
    np.testing.assert_array_equal(tape.volume, np.cumsum(tape.count, axis=1))
    first = int(np.argmax(traded[0]))
    assert (tape.last_price[0, :first] == 0).all() and tape.last_price[0, first] in (400, 430)
