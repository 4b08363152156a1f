"""Unit tests of books and taker matching."""

from __future__ import annotations

import numpy as np

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
    book = build_book(2, 97, sizes, {})
    assert book.yes == ((2, 10), (1, 20))
    assert book.no == ((3, 40), (2, 50), (1, 60))
    assert book.asks("yes") == ((97, 40), (98, 50), (99, 60))
    assert (book.best_bid("no"), book.best_ask("no")) == (3, 98)


def test_consumed_depth_is_removed_until_the_next_tick() -> None:
    ledger = DepthLedger()
    ledger.consume(market=5, tick=10, side="no", price=3, count=40)
    sizes = np.array([[10, 20, 30], [40, 50, 60]])
    assert build_book(2, 97, sizes, ledger.for_market(5, 10)).no[0] == (2, 50)
    assert ledger.touched_markets(10) == {5}
    assert ledger.for_market(5, 11) == {} and ledger.touched_markets(11) == set()


def test_sweep_takes_cheapest_first_within_limit_and_quantity() -> None:
    asks = ((60, 5), (61, 5), (63, 100))
    assert sweep(asks, limit=61, quantity=8) == [(60, 5), (61, 3)]
    assert sweep(asks, limit=59, quantity=8) == []
    assert sweep(shifted(asks, 2), limit=63, quantity=20) == [(62, 5), (63, 5)]
    assert shifted(((98, 1), (99, 1)), 1) == ((99, 1),)
