"""Unit tests of books and taker matching (prices in mills)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from flb_pipeline.core.ticks import LINEAR_CENT, TAPERED_DECI_CENT
from flb_pipeline.exchange.simulator.book import (
    DepthLedger,
    build_book,
    level_sizes,
    shifted,
    sweep,
)


def test_level_sizes_are_deterministic_and_within_bounds() -> None:
    sizes = level_sizes(7, 123, 45, 5, 20, 400)
    assert sizes.shape == (2, 5)
    assert ((sizes >= 20) & (sizes <= 400)).all()
    np.testing.assert_array_equal(sizes, level_sizes(7, 123, 45, 5, 20, 400))
    assert not np.array_equal(sizes, level_sizes(7, 123, 46, 5, 20, 400))


def test_book_mirrors_bids_into_asks_and_stops_at_one_cent() -> None:
    sizes = np.array([[10, 20, 30], [40, 50, 60]])
    book = build_book(LINEAR_CENT, 20, 970, sizes, {})
    assert book.yes == ((20, 10), (10, 20))
    assert book.no == ((30, 40), (20, 50), (10, 60))
    assert book.asks("yes") == ((970, 40), (980, 50), (990, 60))
    assert (book.best_bid("no"), book.best_ask("no")) == (30, 980)
    assert book.size_at("no", 20) == 50 and book.size_at("no", 25) == 0


def test_tapered_book_steps_a_tenth_of_a_cent_in_the_tails() -> None:
    """A YES bid at 92 cents and a NO bid at 7.2 (a YES ask at 92.8) both step down a
    deci-cent tail; a bid at 50 cents steps down the cent grid in between."""
    sizes = np.array([[5, 5, 5], [7, 8, 9]])
    book = build_book(TAPERED_DECI_CENT, 920, 928, sizes, {})
    assert book.yes == ((920, 5), (919, 5), (918, 5))
    assert book.asks("yes") == ((928, 7), (929, 8), (930, 9))
    assert build_book(TAPERED_DECI_CENT, 500, 510, sizes, {}).yes[1:] == ((490, 5), (480, 5))


def test_consumed_depth_is_removed_until_the_next_tick() -> None:
    ledger = DepthLedger()
    ledger.consume(market=5, tick=10, side="no", price=30, count=Decimal(40))
    sizes = np.array([[10, 20, 30], [40, 50, 60]])
    assert build_book(LINEAR_CENT, 20, 970, sizes, ledger.for_market(5, 10)).no[0] == (20, 50)
    assert ledger.touched_markets(10) == {5}
    assert ledger.for_market(5, 11) == {} and ledger.touched_markets(11) == set()


def test_sweep_takes_cheapest_first_within_limit_and_quantity() -> None:
    asks = ((600, Decimal(5)), (610, Decimal(5)), (630, Decimal(100)))
    assert sweep(asks, limit=610, quantity=Decimal(8)) == [(600, 5), (610, 3)]
    assert sweep(asks, limit=590, quantity=Decimal(8)) == []
    assert sweep(shifted(asks, 20), limit=630, quantity=Decimal(20)) == [(620, 5), (630, 5)]
    assert shifted(((980, 1), (990, 1)), 10) == ((990, 1),)
    assert sweep(asks, limit=610, quantity=Decimal("2.5")) == [(600, Decimal("2.5"))]
