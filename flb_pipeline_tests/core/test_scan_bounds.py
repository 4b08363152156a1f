from flb_pipeline.core.scan_bounds import ScanBounds, scan_bounds, universe_key


def bounds(previous_records: int | None, *, listings: int = 1, max_markets: int = 250_000):
    return scan_bounds(
        listings=listings,
        page_limit=1000,
        max_markets=max_markets,
        budget_s=120.0,
        previous_records=previous_records,
    )


def test_without_a_previous_scan_the_cap_is_what_the_largest_universe_fills():
    first = bounds(None)
    assert first.max_pages == 251 and first.budget_s == 120.0
    assert first.basis == "250,000 markets at most"


def test_the_cap_follows_the_last_complete_scan_generously():
    capped = bounds(5_000)
    assert capped.max_pages == 3 * 6 + 10
    assert capped.basis == "3 x 6 pages for the 5,000 markets of the last complete scan + 10"


def test_the_derived_cap_never_exceeds_the_hard_cap():
    assert bounds(200_000).max_pages == 251
    assert bounds(5_000, max_markets=10_000).max_pages == 11


def test_every_listing_may_end_on_a_partial_page():
    assert bounds(None, listings=40, max_markets=10_000).max_pages == 50
    assert bounds(40, listings=40).max_pages == 3 * 41 + 10


def test_a_scan_in_bounds_may_go_on_and_one_past_them_says_which_bound():
    limits = ScanBounds(max_pages=28, budget_s=120.0, basis="the basis")
    assert limits.exceeded(27, 119.9) is None
    assert limits.exceeded(28, 1.0) == (
        "page cap hit: 28 pages requested and the listing still had a next cursor"
        " (cap 28: the basis)"
    )
    assert limits.exceeded(3, 120.0) == (
        "wall-clock budget hit: 120.0 s spent on 3 pages and the listing still had a next"
        " cursor (budget 120 s)"
    )


def test_the_universe_is_named_by_its_filters_whatever_their_order():
    assert universe_key([], []) == "all"
    assert (
        universe_key(["B", "A"], [])
        == universe_key(["A", "B", "A"], [])
        == ("series=A,B;categories=")
    )
    assert universe_key([], ["Climate"]) == "series=;categories=Climate"
