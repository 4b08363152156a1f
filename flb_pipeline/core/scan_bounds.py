"""How far one scan of the open-market universe may page (DESIGN §2: the scan is bounded).

A listing ends when the exchange returns an empty cursor. A server that hands out a fresh
cursor with every page would keep a scan paging forever, and the scan would never finish or
fail. So every scan carries a page cap derived from the universe size and a wall-clock budget;
whichever is reached first stops it with a reason naming that bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil

PAGE_CAP_GROWTH = 3
PAGE_CAP_SLACK = 10


@dataclass(frozen=True)
class ScanBounds:
    """`max_pages` listing pages in all, within `budget_s` seconds; `basis` says where the
    page cap came from, so a scan stopped by it can say why the cap is what it is."""

    max_pages: int
    budget_s: float
    basis: str

    def exceeded(self, pages_requested: int, elapsed_s: float) -> str | None:
        """Why the next page may not be requested, or None while the scan is in bounds."""
        if pages_requested >= self.max_pages:
            return (
                f"page cap hit: {pages_requested} pages requested and the listing still "
                f"had a next cursor (cap {self.max_pages}: {self.basis})"
            )
        if elapsed_s >= self.budget_s:
            return (
                f"wall-clock budget hit: {elapsed_s:.1f} s spent on {pages_requested} pages "
                f"and the listing still had a next cursor (budget {self.budget_s:g} s)"
            )
        return None


def scan_bounds(
    *,
    listings: int,
    page_limit: int,
    max_markets: int,
    budget_s: float,
    previous_records: int | None,
) -> ScanBounds:
    """The page cap of a scan over `listings` listings at `page_limit` markets a page.

    The hard cap is what the largest universe we accept (`max_markets`) can fill: every
    listing may end on a partial page. With a previous complete scan of the same universe
    (`previous_records` markets seen in it), the cap is that scan's page count, tripled and
    padded so that ordinary growth of the universe never trips it, and never above the hard cap.
    """
    hard_cap = listings + max_markets // page_limit
    if previous_records is None:
        return ScanBounds(hard_cap, budget_s, f"{max_markets:,} markets at most")
    expected_pages = listings + ceil(previous_records / page_limit)
    derived = PAGE_CAP_GROWTH * expected_pages + PAGE_CAP_SLACK
    if derived >= hard_cap:
        return ScanBounds(hard_cap, budget_s, f"{max_markets:,} markets at most")
    basis = (
        f"{PAGE_CAP_GROWTH} x {expected_pages} pages for the {previous_records:,} markets"
        f" of the last complete scan + {PAGE_CAP_SLACK}"
    )
    return ScanBounds(derived, budget_s, basis)


def universe_key(series_tickers: Iterable[str], categories: Iterable[str]) -> str:
    """Names the scanned universe, so a page cap is derived only from earlier scans of the
    same one: a scan of one series says nothing about the size of the whole exchange."""
    series = ",".join(sorted(set(series_tickers)))
    chosen = ",".join(sorted(set(categories)))
    return f"series={series};categories={chosen}" if series or chosen else "all"
