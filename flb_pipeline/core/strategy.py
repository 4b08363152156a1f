"""The FLB harvester: one scan plus the model in, sized candidates and counted exclusions out.

Every open market is looked at from both sides (DESIGN §5.4): buy the side whose ask is a
favourite's price when the calibrated win probability beats that ask by at least `min_edge`
after the exact fee for the count we would actually trade.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from flb_pipeline.core.calibration import WinProbabilityModel
from flb_pipeline.core.execution import taker_limit
from flb_pipeline.core.families import family_in_series
from flb_pipeline.core.fees import FeeBook, FeeSchedule
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.records import SIDES, Count, MarketQuote, OrderBook, SeriesInfo, Side
from flb_pipeline.core.sizing import (
    ExposureBook,
    ExposureCaps,
    Sizing,
    SizingRequest,
    count_step,
    kelly_contracts,
    kelly_fraction,
    proposed_holding,
    size_order,
)
from flb_pipeline.core.ticks import LINEAR, PriceLevels, UnsupportedPriceLevels

ACTIVE = "active"
BEYOND_CYCLE_LIMIT = "beyond_max_orders_per_cycle"


@dataclass(frozen=True)
class StrategyThresholds:
    """Decision thresholds; config defaults until a backtest chooses others."""

    min_favourite_price: Decimal = Decimal("0.85")
    min_edge: float = 0.01
    kelly_fraction: float = 0.25
    min_seconds_to_close: float = 60.0
    # The model is fitted on prices a few minutes before close (calibration horizon);
    # applying it days out would extrapolate, so the window stays near that horizon.
    max_seconds_to_close: float = 1800.0


def thresholds_id_of(thresholds: StrategyThresholds) -> str:
    """An id derived from the values: the same thresholds always carry the same id, however
    the price is written (0.90 and 0.9000 are one threshold)."""
    values = asdict(thresholds)
    values["min_favourite_price"] = Decimal(values["min_favourite_price"]).normalize()
    values = repr(sorted(values.items()))
    return f"thr-{hashlib.sha1(values.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class MarketContext:
    """What the decision needs to know about one open market besides its quote."""

    quote: MarketQuote
    family: str
    group_id: str
    schedule: FeeSchedule | None
    yes_win_probability: float | None
    tradeable: bool

    @property
    def levels(self) -> PriceLevels:
        """The market's price grid; only markets whose grid we support get this far."""
        if self.quote.price_levels is None:
            raise UnsupportedPriceLevels(f"{self.quote.ticker} has no supported price grid")
        return self.quote.price_levels


@dataclass(frozen=True)
class Opportunity:
    """A side that passed every screen; sizing and book depth decide how much."""

    context: MarketContext
    side: Side
    price: Decimal
    win_probability: float
    screening_edge: float


@dataclass(frozen=True)
class Candidate:
    ticker: str
    event_ticker: str
    family: str
    group_id: str
    side: Side
    price: Decimal
    win_probability: float
    fee: Decimal
    edge: float
    kelly_fraction: float
    kelly_contracts: Count
    contracts: Count
    cost: Decimal
    binding_cap: str
    price_levels: PriceLevels = LINEAR
    """The market's price grid: the order's limit price is set on it."""


@dataclass(frozen=True)
class Exclusion:
    ticker: str
    side: Side | None
    reason: str


def edge_after_fee(win_probability: float, price: Decimal, fee: Decimal, contracts: Count) -> float:
    """q - price - fee/C: the expected profit per contract of buying `contracts` at `price`."""
    return win_probability - float(price) - float(fee) / float(contracts)


def yes_mid(quote: MarketQuote) -> Decimal | None:
    if quote.yes_bid is None or quote.yes_ask is None:
        return None
    return (quote.yes_bid + quote.yes_ask) / 2


Assessment = tuple[np.ndarray, np.ndarray]
"""`WinProbabilityModel.assess` of some quotes: YES probabilities and tradeable flags."""


def market_contexts(
    quotes: Sequence[MarketQuote],
    groups: ScanGroups,
    series: Mapping[str, SeriesInfo],
    fees: FeeBook,
    model: WinProbabilityModel,
    now: datetime,
    assessed: Assessment | None = None,
) -> list[MarketContext]:
    """Each quote with its family, group, the fee schedule a fill pays now (scheduled
    changes and the market's fee waiver applied) and calibrated YES probability; the model
    is applied to the whole scan at once. `assessed` is that very call's answer when it was
    already made for these quotes (the backtester makes it for all its rows at once)."""
    families = [family_in_series(q.category, series.get(q.series_ticker)) for q in quotes]
    mids = [yes_mid(q) for q in quotes]
    if assessed is None:
        prices = np.array([float(m) if m is not None else 0.5 for m in mids])
        seconds_to_close = np.array([(q.close_time - now).total_seconds() for q in quotes])
        assessed = model.assess(prices, families, seconds_to_close)
    q_yes, tradeable = assessed
    return [
        MarketContext(
            quote=quote,
            family=family,
            group_id=groups.of_market(quote.ticker, quote.event_ticker),
            schedule=fees.at(quote.series_ticker, now, quote.fee_waiver_expires),
            yes_win_probability=None if mid is None or np.isnan(q) else float(q),
            tradeable=mid is not None and bool(ok),
        )
        for quote, family, mid, q, ok in zip(quotes, families, mids, q_yes, tradeable, strict=True)
    ]


@dataclass(frozen=True)
class Screening:
    """A scan through the screens: the best few opportunities go on to sizing."""

    chosen: list[Opportunity]
    exclusions: list[Exclusion]
    opportunities: int


def screen_scan(
    markets: Iterable[MarketContext],
    thresholds: StrategyThresholds,
    capital: Decimal,
    now: datetime,
    max_orders: int,
) -> Screening:
    """Both sides of every market; the best `max_orders` edges are chosen and the rest are
    excluded as beyond the cycle's limit, so every market has a counted outcome."""
    opportunities: list[Opportunity] = []
    exclusions: list[Exclusion] = []
    for market in markets:
        found, excluded = screen_market(market, thresholds, capital, now)
        opportunities.extend(found)
        exclusions.extend(excluded)
    ranked = sorted(opportunities, key=rank)
    exclusions.extend(
        Exclusion(o.context.quote.ticker, o.side, BEYOND_CYCLE_LIMIT) for o in ranked[max_orders:]
    )
    return Screening(ranked[:max_orders], exclusions, len(opportunities))


def screen_market(
    context: MarketContext, thresholds: StrategyThresholds, capital: Decimal, now: datetime
) -> tuple[list[Opportunity], list[Exclusion]]:
    """Both sides of one market through the screens; reasons are kept for every rejection."""
    reason = _market_exclusion(context, thresholds, now)
    if reason:
        return [], [Exclusion(context.quote.ticker, None, reason)]
    opportunities, exclusions = [], []
    for side in SIDES:
        outcome = _screen_side(context, side, thresholds, capital)
        if isinstance(outcome, Opportunity):
            opportunities.append(outcome)
        else:
            exclusions.append(Exclusion(context.quote.ticker, side, outcome))
    return opportunities, exclusions


def _market_exclusion(
    context: MarketContext, thresholds: StrategyThresholds, now: datetime
) -> str | None:
    quote = context.quote
    seconds_to_close = (quote.close_time - now).total_seconds()
    checks = [
        (quote.status != ACTIVE, "not_active"),
        (yes_mid(quote) is None, "no_book"),
        (quote.price_levels is None, "unsupported_price_levels"),
        (context.schedule is None, "unsupported_fee_type"),
        (context.yes_win_probability is None, "unknown_family"),
        (not context.tradeable, "model_not_tradeable_here"),
        (seconds_to_close < thresholds.min_seconds_to_close, "too_close_to_close"),
        (seconds_to_close > thresholds.max_seconds_to_close, "too_far_from_close"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def _screen_side(
    context: MarketContext, side: Side, thresholds: StrategyThresholds, capital: Decimal
) -> Opportunity | str:
    price = context.quote.ask(side)
    if price is None:
        return "no_ask"
    if not Decimal(0) < price < Decimal(1):
        return "degenerate_price"
    if price < thresholds.min_favourite_price:
        return "below_min_favourite_price"
    assert context.yes_win_probability is not None and context.schedule is not None
    q = context.yes_win_probability if side == "yes" else 1 - context.yes_win_probability
    step = count_step(context.quote.fractional)
    contracts = kelly_contracts(
        q, price, context.schedule, capital, thresholds.kelly_fraction, step
    )
    if contracts == 0:
        return "no_edge"
    edge = edge_after_fee(q, price, context.schedule.taker_fee(contracts, price), contracts)
    if edge < thresholds.min_edge:
        return "below_min_edge"
    return Opportunity(context, side, price, q, edge)


DepthMap = Mapping[tuple[str, Side], Count]


def size_candidates(
    opportunities: Iterable[Opportunity],
    book: ExposureBook,
    capital: Decimal,
    caps: ExposureCaps,
    thresholds: StrategyThresholds,
    depth: DepthMap | None = None,
) -> tuple[list[Candidate], list[Exclusion], ExposureBook]:
    """Size the best edges first; each accepted order counts against the caps of the next,
    both as exposure and as the capital its mark loss takes away."""
    candidates: list[Candidate] = []
    exclusions: list[Exclusion] = []
    for opportunity in sorted(opportunities, key=rank):
        request = _request(opportunity, depth)
        sizing = size_order(request, book, capital, caps, thresholds.kelly_fraction)
        outcome = _accept(opportunity, request, sizing, thresholds)
        if isinstance(outcome, Exclusion):
            exclusions.append(outcome)
            continue
        book = book.with_holding(proposed_holding(request, sizing.contracts))
        capital -= request.mark_loss(sizing.contracts)
        candidates.append(outcome)
    return candidates, exclusions, book


def depth_within_limit(
    opportunities: Iterable[Opportunity], books: Iterable[OrderBook], slippage_cents: int
) -> DepthMap:
    """Contracts offered at or below each order's taker limit (the price it will be sent at).

    A taker order can never fill more than this, so sizing caps its count here.
    """
    by_ticker = {book.ticker: book for book in books}
    return {
        (o.context.quote.ticker, o.side): sum(
            level.contracts
            for level in by_ticker[o.context.quote.ticker].asks(o.side)
            if level.price <= taker_limit(o.price, slippage_cents, o.context.levels)
        )
        for o in opportunities
    }


def rank(opportunity: Opportunity) -> tuple[float, str, str]:
    """Best screening edge first; ticker and side break ties so the order is stable."""
    return (-opportunity.screening_edge, opportunity.context.quote.ticker, opportunity.side)


def _accept(
    opportunity: Opportunity, request: SizingRequest, sizing: Sizing, thresholds: StrategyThresholds
) -> Candidate | Exclusion:
    """The sized order, or why it fell away (trimmed to nothing, or its edge shrank)."""
    ticker, side = request.ticker, request.side
    if sizing.contracts == 0:
        return Exclusion(ticker, side, f"zero_size_{sizing.binding_cap}")
    edge = edge_after_fee(request.win_probability, request.price, sizing.fee, sizing.contracts)
    if edge < thresholds.min_edge:
        return Exclusion(ticker, side, "below_min_edge_after_caps")
    context = opportunity.context
    return Candidate(
        ticker=ticker,
        event_ticker=request.event_ticker,
        family=context.family,
        group_id=context.group_id,
        side=side,
        price=request.price,
        win_probability=request.win_probability,
        fee=sizing.fee,
        edge=edge,
        kelly_fraction=kelly_fraction(
            request.win_probability, float(sizing.cost) / float(sizing.contracts)
        ),
        kelly_contracts=sizing.kelly_contracts,
        contracts=sizing.contracts,
        cost=sizing.cost,
        binding_cap=sizing.binding_cap,
        price_levels=context.levels,
    )


def _request(opportunity: Opportunity, depth: DepthMap | None) -> SizingRequest:
    context = opportunity.context
    assert context.schedule is not None
    ticker = context.quote.ticker
    return SizingRequest(
        ticker=ticker,
        event_ticker=context.quote.event_ticker,
        group_id=context.group_id,
        side=opportunity.side,
        price=opportunity.price,
        win_probability=opportunity.win_probability,
        schedule=context.schedule,
        depth=None if depth is None else depth.get((ticker, opportunity.side), 0),
        mark_price=context.quote.bid(opportunity.side),
        step=count_step(context.quote.fractional),
    )


def exclusion_counts(exclusions: Iterable[Exclusion]) -> dict[str, int]:
    return dict(Counter(e.reason for e in exclusions).most_common())
