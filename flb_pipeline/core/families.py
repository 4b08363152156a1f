"""Product families and heuristic correlation keys (DESIGN §5.2, §5.3).

A *family* is a coarse product line (weather, financials, ...): calibration fits one offset
per family and P&L is attributed by it. A *heuristic group key* narrows a family to the
markets that share one driver, e.g. every weather market of one state (`weather_california`
holds Los Angeles and San Francisco): they are exposed to the same weather system.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from flb_pipeline.core.records import SeriesInfo

UNKNOWN_FAMILY = "unknown"

CATEGORY_FAMILIES = {
    "climate and weather": "weather",
    "weather": "weather",
    "financials": "financials",
    "economics": "economics",
    "sports": "sports",
    "politics": "politics",
    "elections": "politics",
    "crypto": "crypto",
    "companies": "companies",
    "entertainment": "entertainment",
    "science and technology": "science",
    "health": "health",
    "world": "world",
}

US_STATES = frozenset(
    {
        "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
        "Delaware", "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois",
        "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland",
        "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana",
        "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
        "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
        "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
        "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
    }
)  # fmt: skip


def slug(text: str) -> str:
    """`New York` -> `newyork`: stable, readable keys for group ids."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def family_of(category: str) -> str:
    """The family of a category; unknown categories keep their own slug, empty is unknown."""
    key = category.strip().lower()
    if not key:
        return UNKNOWN_FAMILY
    return CATEGORY_FAMILIES.get(key, slug(key) or UNKNOWN_FAMILY)


@functools.lru_cache(maxsize=4096)
def market_family(market_category: str | None, series_category: str | None) -> str:
    """A market's family: its series' category when known (Kalshi often leaves the market's
    own empty), else the market's. Calibration and trading both go through this one rule.

    Cached: a scan asks for thousands of markets but a handful of categories."""
    return family_of(series_category or market_category or "")


def family_in_series(market_category: str | None, series: SeriesInfo | None) -> str:
    """`market_family` of a market whose series we know (or do not: None)."""
    return market_family(market_category, series.category if series else None)


def region_of(tags: Iterable[str]) -> str | None:
    """The US state a series is about, if its tags name one."""
    return next((tag for tag in tags if tag in US_STATES), None)


@functools.lru_cache(maxsize=4096)
def heuristic_group_key(family: str, series_ticker: str, tags: tuple[str, ...]) -> str:
    """`weather_california` when the series names a state, else `<family>_<series>`.

    Cached (hence tags as a tuple): every market of a series shares its key."""
    region = region_of(tags)
    return f"{family}_{slug(region) if region else slug(series_ticker)}"
