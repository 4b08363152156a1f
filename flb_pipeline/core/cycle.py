"""One trading cycle's decision: the single decision path of live trading and the backtester.

Quotes, groups, fee book, model, capital and thresholds in; sized candidates and counted
exclusions out. What differs between live trading and a replay is only where book depth and
held exposure come from (freshly fetched and read from the store, or recorded and tracked by
the replay), so both are handed in as functions of the opportunities the screens chose: a
live cycle fetches books only for those few markets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flb_pipeline.core.calibration import WinProbabilityModel
from flb_pipeline.core.fees import FeeBook
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.records import MarketQuote, SeriesInfo
from flb_pipeline.core.sizing import ExposureBook, ExposureCaps
from flb_pipeline.core.strategy import (
    Assessment,
    Candidate,
    DepthMap,
    Exclusion,
    Opportunity,
    StrategyThresholds,
    market_contexts,
    screen_scan,
    size_candidates,
)


@dataclass(frozen=True)
class CycleInputs:
    """Everything one decision reads, as of `now`."""

    quotes: Sequence[MarketQuote]
    groups: ScanGroups
    series: Mapping[str, SeriesInfo]
    fees: FeeBook
    model: WinProbabilityModel
    now: datetime
    capital: Decimal
    thresholds: StrategyThresholds
    caps: ExposureCaps
    max_orders: int
    assessed: Assessment | None = None
    """The model's answer for `quotes` when already computed (see `market_contexts`)."""


@dataclass(frozen=True)
class CycleDecision:
    candidates: list[Candidate]
    exclusions: list[Exclusion]
    markets: int
    opportunities: int
    chosen: list[Opportunity]


DepthOf = Callable[[Sequence[Opportunity]], DepthMap | None]
"""Contracts offered within each chosen order's limit (None: depth does not limit it)."""
ExposureOf = Callable[[Sequence[Opportunity]], ExposureBook]
"""Held lots and resting orders, with what is known of the chosen markets' events."""


def decide_cycle(inputs: CycleInputs, depth_of: DepthOf, exposure_of: ExposureOf) -> CycleDecision:
    """Screen both sides of every quoted market, keep the best `max_orders`, then size them
    best edge first under the caps, the held exposure and the book depth."""
    contexts = market_contexts(
        inputs.quotes, inputs.groups, inputs.series, inputs.fees, inputs.model, inputs.now,
        inputs.assessed,
    )  # fmt: skip
    screening = screen_scan(
        contexts, inputs.thresholds, inputs.capital, inputs.now, inputs.max_orders
    )
    depth = depth_of(screening.chosen)
    book = exposure_of(screening.chosen)
    candidates, trimmed, _ = size_candidates(
        screening.chosen, book, inputs.capital, inputs.caps, inputs.thresholds, depth
    )
    return CycleDecision(
        candidates,
        [*screening.exclusions, *trimmed],
        len(inputs.quotes),
        screening.opportunities,
        screening.chosen,
    )
