"""The simulated universe: market families, their series and how each event lays out strikes.

Every event has one latent value X (a day's high, an index level, a data print, a score
margin). A market is a set of X values; it settles YES iff X at close lies in it. Families
differ only in how those sets are laid out around the event's centre:

- "brackets": mutually exclusive ranges, a "less" tail, `between` bins and a "greater" tail;
- "thresholds": nested "above k" markets, not mutually exclusive;
- "matchup": each team wins, i.e. the margin is positive or negative.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import Decimal

from flb_pipeline.core.fees import QUADRATIC, QUADRATIC_WITH_MAKER_FEES
from flb_pipeline.core.ticks import DECI_CENT, LINEAR_CENT, TAPERED_DECI_CENT

INF = math.inf
FEE_MULTIPLIER = Decimal(1)
"""Every simulated series charges the standard schedule (Kalshi publishes it per series)."""


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """A Kalshi series and the distribution of its latent value."""

    ticker: str
    subject: str
    tags: tuple[str, ...]
    base: float
    step: float
    sigma: float
    dispersion: float
    unit: str = ""
    teams: tuple[str, ...] = ()
    price_structure: str = LINEAR_CENT
    """Kalshi's `price_level_structure` of every market in the series."""
    fractional: bool = False
    """Whether its markets accept counts in hundredths of a contract."""


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """A group of series sharing category, fee type and strike layout."""

    name: str
    category: str
    fee_type: str
    share: float
    layout: str
    edge_offsets: tuple[float, ...]
    mutually_exclusive: bool
    series: tuple[SeriesSpec, ...]

    @property
    def markets_per_event(self) -> int:
        if self.layout == "brackets":
            return len(self.edge_offsets) + 1
        if self.layout == "thresholds":
            return len(self.edge_offsets)
        return 2


@dataclass(frozen=True, slots=True)
class MarketSet:
    """The X values for which one market settles YES: `lo <= X < hi`."""

    lo: float
    hi: float
    suffix: str
    yes_sub_title: str
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None


def _weather(
    ticker: str, city: str, state: str, base: float, structure: str = TAPERED_DECI_CENT
) -> SeriesSpec:
    return SeriesSpec(
        ticker, city, ("Weather", city, state), base, 2.0, 3.0, 8.0, "°", price_structure=structure
    )


def _league(
    ticker: str, league: str, margin_sigma: float, teams: str, structure: str
) -> SeriesSpec:
    return SeriesSpec(
        ticker,
        league,
        ("Sports", league),
        0.0,
        1.0,
        margin_sigma,
        4.0,
        teams=tuple(teams.split()),
        price_structure=structure,
    )


WEATHER = FamilySpec(
    name="weather",
    category="Climate and Weather",
    fee_type=QUADRATIC,
    share=0.4,
    layout="brackets",
    edge_offsets=(-2.0, -1.0, 0.0, 1.0, 2.0),
    mutually_exclusive=True,
    series=(
        _weather("KXHIGHNY", "New York", "New York", 52.0),
        _weather("KXHIGHCHI", "Chicago", "Illinois", 47.0),
        _weather("KXHIGHMIA", "Miami", "Florida", 81.0),
        _weather("KXHIGHAUS", "Austin", "Texas", 72.0),
        _weather("KXHIGHDEN", "Denver", "Colorado", 55.0, LINEAR_CENT),
        _weather("KXHIGHLAX", "Los Angeles", "California", 70.0, LINEAR_CENT),
        _weather("KXHIGHSFO", "San Francisco", "California", 62.0, DECI_CENT),
        _weather("KXHIGHPHIL", "Philadelphia", "Pennsylvania", 54.0),
    ),
)

INDEX = FamilySpec(
    name="index",
    category="Financials",
    fee_type=QUADRATIC_WITH_MAKER_FEES,
    share=0.2,
    layout="brackets",
    edge_offsets=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5),
    mutually_exclusive=True,
    series=(
        SeriesSpec(
            "KXINX",
            "S&P 500",
            ("Stocks", "S&P 500"),
            6000.0,
            25.0,
            40.0,
            60.0,
            price_structure=DECI_CENT,
            fractional=True,
        ),
        SeriesSpec(
            "KXNASDAQ100",
            "Nasdaq-100",
            ("Stocks", "Nasdaq"),
            21000.0,
            100.0,
            160.0,
            250.0,
            price_structure=TAPERED_DECI_CENT,
            fractional=True,
        ),
    ),
)

ECONOMICS = FamilySpec(
    name="economics",
    category="Economics",
    fee_type=QUADRATIC,
    share=0.2,
    layout="thresholds",
    edge_offsets=(-2.0, -1.0, 0.0, 1.0, 2.0),
    mutually_exclusive=False,
    series=(
        SeriesSpec("KXCPI", "CPI month-over-month", ("Inflation", "CPI"), 0.3, 0.1, 0.12, 0.1, "%"),
        SeriesSpec("KXPAYROLLS", "Nonfarm payrolls", ("Jobs",), 150.0, 25.0, 35.0, 40.0, "k"),
        SeriesSpec("KXFED", "Fed funds upper bound", ("Fed", "Rates"), 4.25, 0.25, 0.3, 0.25, "%"),
    ),
)

SPORTS = FamilySpec(
    name="sports",
    category="Sports",
    fee_type=QUADRATIC_WITH_MAKER_FEES,
    share=0.2,
    layout="matchup",
    edge_offsets=(),
    mutually_exclusive=True,
    series=(
        _league(
            "KXNBAGAME", "NBA", 11.0, "BOS LAL GSW MIA NYK DEN PHX MIL DAL CHI", TAPERED_DECI_CENT
        ),
        _league("KXNFLGAME", "NFL", 12.0, "KC BUF PHI SF DAL DET BAL GB CIN MIA", LINEAR_CENT),
        _league("KXNHLGAME", "NHL", 2.0, "BOS TOR NYR EDM COL VGK FLA DAL CAR WPG", DECI_CENT),
    ),
)

FAMILY_SPECS = {family.name: family for family in (WEATHER, INDEX, ECONOMICS, SPORTS)}


def centre_for(series: SeriesSpec, latent_start: float) -> float:
    """The strike grid's centre: the opening latent snapped to the series' strike step."""
    return round(latent_start / series.step) * series.step


def market_sets(
    family: FamilySpec, series: SeriesSpec, centre: float, teams: tuple[str, ...]
) -> list[MarketSet]:
    """The markets of one event, in listing order."""
    if family.layout == "matchup":
        return _matchup(teams)
    edges = [_tidy(centre + offset * series.step) for offset in family.edge_offsets]
    if family.layout == "thresholds":
        return [_above(edge, series.unit) for edge in edges]
    return _brackets(edges, series.unit)


def _brackets(edges: list[float], unit: str) -> list[MarketSet]:
    """A "less" tail, a `between` bin per pair of edges, a "greater" tail."""
    between = [
        MarketSet(
            floor,
            cap,
            f"B{_tidy((floor + cap) / 2):g}",
            f"{floor:g}{unit} to {cap:g}{unit}",
            "between",
            floor,
            cap,
        )
        for floor, cap in itertools.pairwise(edges)
    ]
    return [_below(edges[0], unit), *between, _above(edges[-1], unit)]


def _below(edge: float, unit: str) -> MarketSet:
    return MarketSet(-INF, edge, f"T{edge:g}", f"Below {edge:g}{unit}", "less", None, edge)


def _above(edge: float, unit: str) -> MarketSet:
    return MarketSet(edge, INF, f"T{edge:g}", f"{edge:g}{unit} or above", "greater", edge, None)


def _matchup(teams: tuple[str, ...]) -> list[MarketSet]:
    """Home wins iff the margin (home minus away) ends positive."""
    home, away = teams
    return [
        MarketSet(0.0, INF, home, home, None, None, None),
        MarketSet(-INF, 0.0, away, away, None, None, None),
    ]


def _tidy(value: float) -> float:
    """Strip float noise from strikes such as 0.30000000000000004."""
    return round(value, 6)
