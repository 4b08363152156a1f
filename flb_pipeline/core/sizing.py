"""Quarter-Kelly sizing on the fee-inclusive price, trimmed by exposure caps (DESIGN §5.4).

Exposure is the worst-case loss at settlement. For a mutually exclusive event (weather
brackets, one winner) the worst case is taken over which market wins, so NO contracts on
several brackets are not all counted as lost at once; anything else is assumed to lose every
contract, which can only overstate risk.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.records import HUNDREDTH, Count, Side, count_of

OTHER_OUTCOME = ""
KELLY = "kelly"
TARGET_HELD = "target_held"
POSITION_CAP = "position_cap"
GROUP_CAP = "group_cap"
TOTAL_CAP = "total_cap"
DEPTH = "depth"
WHOLE = 1
"""Count step on markets that trade whole contracts only; fractional ones step by 0.01."""
MAX_SIZING_STEPS = 2_000
"""How far below the fee-free Kalshi bound the exact search looks: the exact fee exceeds the
unrounded one by under two cents, a handful of steps, so this only bounds pathological cases."""


def count_step(fractional: bool) -> Count:
    return HUNDREDTH if fractional else WHOLE


@dataclass(frozen=True)
class ExposureCaps:
    """Fractions of capital; each cap trims an order, never lets it exceed."""

    position_fraction: Decimal = Decimal("0.05")
    group_fraction: Decimal = Decimal("0.15")
    total_fraction: Decimal = Decimal("0.20")


@dataclass(frozen=True)
class Holding:
    """A position or a proposed order; `cost` includes its fees (the most it can lose)."""

    ticker: str
    event_ticker: str
    group_id: str
    side: Side
    contracts: Count
    cost: Decimal


def worst_case_loss(
    holdings: Iterable[Holding], mutually_exclusive_events: frozenset[str]
) -> Decimal:
    """Largest settlement loss of `holdings`, event by event (events settle independently)."""
    by_event: dict[str, list[Holding]] = defaultdict(list)
    for holding in holdings:
        by_event[holding.event_ticker].append(holding)
    return sum(
        (
            _event_worst_case(items) if event in mutually_exclusive_events else _all_lose(items)
            for event, items in by_event.items()
        ),
        Decimal(0),
    )


def _all_lose(holdings: list[Holding]) -> Decimal:
    return sum((h.cost for h in holdings), Decimal(0))


def _event_worst_case(holdings: list[Holding]) -> Decimal:
    """One market of the event wins (or one we hold nothing in): loss = cost - payout."""
    cost = _all_lose(holdings)
    outcomes = {h.ticker for h in holdings} | {OTHER_OUTCOME}
    worst = max(cost - _payout(holdings, winner) for winner in outcomes)
    return max(worst, Decimal(0))


def _payout(holdings: list[Holding], winner: str) -> Decimal:
    """$1 per YES contract on the winner and per NO contract on every other market."""
    return Decimal(
        sum(
            h.contracts
            for h in holdings
            if (h.side == "yes" and h.ticker == winner) or (h.side == "no" and h.ticker != winner)
        )
    )


@dataclass(frozen=True)
class ExposureBook:
    """Positions plus the orders proposed so far in this cycle."""

    holdings: tuple[Holding, ...] = ()
    mutually_exclusive_events: frozenset[str] = field(default_factory=frozenset)

    def with_holding(self, holding: Holding) -> ExposureBook:
        return replace(self, holdings=(*self.holdings, holding))

    def held_contracts(self, ticker: str, side: Side) -> Count:
        """Contracts of `side` held, resting or already proposed in `ticker`."""
        return count_of(
            sum(h.contracts for h in self.holdings if h.ticker == ticker and h.side == side)
        )

    def position_exposure(self, ticker: str) -> Decimal:
        return _all_lose([h for h in self.holdings if h.ticker == ticker])

    def group_exposure(self, group_id: str) -> Decimal:
        return worst_case_loss(
            (h for h in self.holdings if h.group_id == group_id), self.mutually_exclusive_events
        )

    def total_exposure(self) -> Decimal:
        return worst_case_loss(self.holdings, self.mutually_exclusive_events)

    def group_exposures(self) -> dict[str, Decimal]:
        by_group: dict[str, list[Holding]] = defaultdict(list)
        for holding in self.holdings:
            by_group[holding.group_id].append(holding)
        return {
            group: worst_case_loss(by_group[group], self.mutually_exclusive_events)
            for group in sorted(by_group)
        }

    def position_exposures(self) -> dict[str, Decimal]:
        """Every contract of each held market lost: what the position cap measures."""
        by_ticker: dict[str, Decimal] = defaultdict(Decimal)
        for holding in self.holdings:
            by_ticker[holding.ticker] += holding.cost
        return dict(by_ticker)


def order_cost(schedule: FeeSchedule, contracts: Count, price: Decimal) -> Decimal:
    """Cash out for a taker buy: contracts at `price` plus the exact rounded fee."""
    return contracts * price + schedule.taker_fee(contracts, price)


def kelly_fraction(win_probability: float, price: float) -> float:
    """Full-Kelly fraction of capital for a $1 binary bought at `price`: (q - p) / (1 - p)."""
    if price >= 1:
        return 0.0
    return max(0.0, (win_probability - price) / (1 - price))


def kelly_contracts(
    win_probability: float,
    price: Decimal,
    schedule: FeeSchedule,
    capital: Decimal,
    kelly_multiplier: float,
    step: Count = WHOLE,
) -> Count:
    """Largest count C (a multiple of `step`) with C·p'(C) <= multiplier · f*(p'(C)) ·
    capital, p' the fee-inclusive price.

    The fee depends on C (rounded up per fill), so the unrounded fee rate gives an upper
    bound and we step down to the first count whose exact cost the Kelly stake covers.
    """
    raw_effective = float(price) + float(schedule.raw_fee(1, price, is_taker=True))
    stake = kelly_multiplier * kelly_fraction(win_probability, raw_effective) * float(capital)
    upper = math.floor(stake / raw_effective / float(step) + 1e-9) if raw_effective > 0 else 0
    for units in range(upper, max(upper - MAX_SIZING_STEPS, 0), -1):
        contracts = count_of(units * step)
        cost = order_cost(schedule, contracts, price)
        p_eff = float(cost) / float(contracts)
        if (
            float(cost)
            <= kelly_multiplier * kelly_fraction(win_probability, p_eff) * float(capital) + 1e-9
        ):
            return contracts
    return 0


@dataclass(frozen=True)
class SizingRequest:
    ticker: str
    event_ticker: str
    group_id: str
    side: Side
    price: Decimal
    win_probability: float
    schedule: FeeSchedule
    depth: Count | None = None
    mark_price: Decimal | None = None
    step: Count = WHOLE
    """Count granularity of the market: 1, or 0.01 where it trades fractions."""

    def mark_loss(self, contracts: Count) -> Decimal:
        """Capital lost the moment the order fills: paid the ask and fee, marked at the bid."""
        mark = self.mark_price if self.mark_price is not None else Decimal(0)
        return order_cost(self.schedule, contracts, self.price) - contracts * mark


@dataclass(frozen=True)
class Sizing:
    """An order's size; `kelly_contracts` is the target holding it tops up to."""

    contracts: Count
    binding_cap: str
    kelly_contracts: Count
    fee: Decimal
    cost: Decimal


def size_order(
    request: SizingRequest,
    book: ExposureBook,
    capital: Decimal,
    caps: ExposureCaps,
    kelly_multiplier: float,
) -> Sizing:
    """The Kelly target less what is already held, then the position, group and total caps in
    that order, then book depth.

    The Kelly stake is the *target holding* in the market and side: what we hold, what rests
    at the exchange and what this cycle already proposed count towards it, so a market
    screened cycle after cycle is bought up to its target once, never stacked. Caps are
    fractions of the capital left after the order is marked to the bid, so a cycle that
    fills up to a cap does not find itself over it at the next mark.
    """
    target = kelly_contracts(
        request.win_probability, request.price, request.schedule, capital, kelly_multiplier,
        request.step,
    )  # fmt: skip
    held = book.held_contracts(request.ticker, request.side)
    contracts = count_of(max(target - held, 0))
    sizing = Sizing(contracts, TARGET_HELD if held else KELLY, target, Decimal(0), Decimal(0))
    limits = [
        (POSITION_CAP, lambda h: h.ticker == request.ticker, False, caps.position_fraction),
        (GROUP_CAP, lambda h: h.group_id == request.group_id, True, caps.group_fraction),
        (TOTAL_CAP, lambda h: True, True, caps.total_fraction),
    ]
    for name, in_scope, worst_case, fraction in limits:
        exposure = _exposure_with_order(request, book, in_scope, worst_case)
        allowed = _largest_within(request, contracts, exposure, fraction, capital)
        if allowed < contracts:
            contracts, sizing = allowed, replace(sizing, binding_cap=name)
    if request.depth is not None and request.depth < contracts:
        depth = count_of((Decimal(request.depth) // Decimal(request.step)) * request.step)
        contracts, sizing = depth, replace(sizing, binding_cap=DEPTH)
    fee = request.schedule.taker_fee(contracts, request.price) if contracts else Decimal(0)
    return replace(sizing, contracts=contracts, fee=fee, cost=contracts * request.price + fee)


def proposed_holding(request: SizingRequest, contracts: Count) -> Holding:
    return Holding(
        request.ticker,
        request.event_ticker,
        request.group_id,
        request.side,
        contracts,
        order_cost(request.schedule, contracts, request.price),
    )


def _exposure_with_order(
    request: SizingRequest,
    book: ExposureBook,
    in_scope: Callable[[Holding], bool],
    worst_case: bool,
) -> Callable[[Count], Decimal]:
    """The exposure of a cap's scope once an order of C contracts is added, as a function of C.

    The same figure as `position_exposure` (`worst_case` False: every contract lost) or
    `group_exposure` / `total_exposure` of the book with the order in it, computed once for
    the events the order is not in: a cap's search probes many counts, and only the order's
    own event changes between probes.
    """
    scope = [h for h in book.holdings if in_scope(h)]
    own = [h for h in scope if h.event_ticker == request.event_ticker]
    others = [h for h in scope if h.event_ticker != request.event_ticker]
    exclusive = book.mutually_exclusive_events if worst_case else frozenset()
    base = worst_case_loss(others, exclusive) if worst_case else _all_lose(others)
    event_loss = (
        _event_worst_case if request.event_ticker in exclusive else _all_lose
    )  # fmt: skip

    def exposure(contracts: Count) -> Decimal:
        return base + event_loss([*own, proposed_holding(request, contracts)])

    return exposure


def _largest_within(
    request: SizingRequest,
    upper: Count,
    exposure_of: Callable[[Count], Decimal],
    fraction: Decimal,
    capital: Decimal,
) -> Count:
    """Largest count <= upper (in the market's steps) keeping the exposure with the order
    within `fraction` of the capital left after the order's mark loss.

    Exposure never falls and the marked capital never rises as a buy grows, so the room left
    (`slack`) falls with the count and the answer is where it crosses zero. Cost and fee are
    all but linear in the count, so one interpolation between the ends lands on (or next to)
    it; the search then only confirms, bisecting what is left if it missed.
    """

    def slack(units: int) -> Decimal:
        contracts = count_of(units * request.step)
        room = fraction * (capital - request.mark_loss(contracts))
        return room - exposure_of(contracts)

    top = int(Decimal(upper) / Decimal(request.step)) if upper > 0 else 0
    if top <= 0:
        return 0
    at_top = slack(top)
    if at_top >= 0:
        return count_of(top * request.step)
    at_one = slack(1)
    if at_one < 0:  # already at the cap: the common case once a position is held
        return 0
    low, high = 1, top
    guess = min(max(1 + int((top - 1) * at_one / (at_one - at_top)), 1), top - 1)
    if guess > low:
        if slack(guess) >= 0:
            low = guess
        else:
            high = guess
    if high - low > 1 and slack(low + 1) < 0:
        high = low + 1
    while high - low > 1:
        middle = (low + high) // 2
        if slack(middle) >= 0:
            low = middle
        else:
            high = middle
    return count_of(low * request.step)
