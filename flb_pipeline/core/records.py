"""Domain records shared by the exchange client, the store and the Dagster layer.

Prices are exact `Decimal` dollars (Kalshi quotes in whole cents and, on newer markets, in
four-decimal dollar strings); money is `Decimal` dollars as well, so fees and P&L stay exact.
Probabilities are floats: they come out of a statistical model, not a ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from flb_pipeline.core.ticks import LINEAR, PriceLevels

Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]
Count = int | Decimal
"""A contract count: whole contracts, or hundredths where a market trades fractions."""
HUNDREDTH = Decimal("0.01")


def count_of(value: object) -> Count:
    """A parsed or stored count as a `Count`: an int when whole (the common case, and what
    `range` and `%d` expect), else exact hundredths."""
    if isinstance(value, int):
        return value
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return int(number)
    return number.quantize(HUNDREDTH)


SIDES: tuple[Side, Side] = ("yes", "no")
ONE_DOLLAR = Decimal(1)


def other_side(side: Side) -> Side:
    """The complementary contract: a NO bid at p is a YES ask at 1 - p."""
    return "no" if side == "yes" else "yes"


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series and the fee schedule every market in it pays (DESIGN §5.1)."""

    ticker: str
    title: str
    category: str
    fee_type: str
    fee_multiplier: Decimal
    frequency: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventInfo:
    """An event; `mutually_exclusive` events have exactly one winning market (brackets)."""

    event_ticker: str
    series_ticker: str
    title: str
    mutually_exclusive: bool


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """One open market with the top of book that the `/markets` listing carries."""

    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    category: str
    status: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    last_price: Decimal | None
    volume: int
    open_interest: int
    open_time: datetime
    close_time: datetime
    quote_ts: datetime | None
    """When the listing carrying this quote was received (Kalshi's `updated_time` is the
    last *metadata* change, not a quote time)."""
    price_levels: PriceLevels | None = LINEAR
    """The market's price grid; None when it publishes one we do not support."""
    fee_waiver_expires: datetime | None = None
    fractional: bool = False
    """Whether the market accepts counts in hundredths of a contract."""

    def ask(self, side: Side) -> Decimal | None:
        """Price to buy one contract of `side` now."""
        return self.yes_ask if side == "yes" else self.no_ask

    def bid(self, side: Side) -> Decimal | None:
        """Price one contract of `side` sells for now."""
        return self.yes_bid if side == "yes" else self.no_bid


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    contracts: Count


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Resting bids per side, best (highest) first. Kalshi publishes bids only."""

    ticker: str
    yes_bids: tuple[BookLevel, ...]
    no_bids: tuple[BookLevel, ...]

    def bids(self, side: Side) -> tuple[BookLevel, ...]:
        return self.yes_bids if side == "yes" else self.no_bids

    def asks(self, side: Side) -> tuple[BookLevel, ...]:
        """Offers to buy `side`, cheapest first: an other-side bid at p is an ask at 1 - p."""
        return tuple(
            BookLevel(ONE_DOLLAR - level.price, level.contracts)
            for level in self.bids(other_side(side))
        )


@dataclass(frozen=True, slots=True)
class SettledMarket:
    """A market that has settled, with its result; feeds calibration and backtests."""

    ticker: str
    event_ticker: str
    series_ticker: str
    category: str
    open_time: datetime
    close_time: datetime
    result: str
    last_price: Decimal | None
    settled_at: datetime | None = None
    """When it settled (Kalshi's `settlement_ts`); which tier serves it depends on it."""


@dataclass(frozen=True, slots=True)
class PricePoint:
    """One candlestick close of a market's YES quote."""

    ticker: str
    period_end: datetime
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One HTTP attempt against the exchange, successful or not (table `api_calls`).

    `final` says whether this attempt ended its logical call (it returned, or its failure
    was handed to the caller); a retried attempt is not final. Attempts are a health
    figure; failed calls are what the error_burst kill switch counts.
    """

    called_at: datetime
    method: str
    path: str
    status: int | None
    latency_ms: float
    error_class: str | None
    attempt: int = 1
    final: bool = True


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order we decided to send. `client_order_id` is deterministic, so resends dedupe.

    `limit_price` is the price of `side`; the exchange layer turns it into a bid or an ask
    on the YES book. `order_group_id` puts it under the cycle's exchange-side contracts
    limit; `cancel_order_on_pause` has the exchange cancel it if trading pauses."""

    client_order_id: str
    ticker: str
    side: Side
    action: Action
    contracts: Count
    limit_price: Decimal
    time_in_force: str = "immediate_or_cancel"
    post_only: bool = False
    order_group_id: str | None = None
    cancel_order_on_pause: bool = True


@dataclass(frozen=True, slots=True)
class OrderGroup:
    """An exchange-side cap: at most `contracts_limit` contracts of its orders may fill in a
    rolling 15 s window; past it the exchange cancels the group's orders and refuses new
    ones until the group is reset."""

    order_group_id: str
    contracts_limit: Count
    triggered: bool


@dataclass(frozen=True, slots=True)
class ExchangeState:
    """`GET /exchange/status`: whether the exchange is up and whether it takes orders."""

    exchange_active: bool
    trading_active: bool
    resumes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A scheduled pause from `GET /exchange/schedule`."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RateBudget:
    """One token bucket of `GET /account/limits`: tokens per second and burst capacity."""

    refill_per_s: float
    capacity: float


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """The account's API tier; an ordinary request costs `default_cost` tokens."""

    usage_tier: str
    read: RateBudget
    write: RateBudget
    default_cost: int = 10


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange reports it."""

    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    status: str
    limit_price: Decimal
    initial_contracts: Count
    filled_contracts: Count
    remaining_contracts: Count
    fees: Decimal
    created_time: datetime | None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders at one price. `fee` is None until known: some API
    versions leave it out, and it is then computed from the series' fee schedule."""

    fill_id: str
    order_id: str
    client_order_id: str | None
    ticker: str
    side: Side
    action: Action
    contracts: Count
    price: Decimal
    fee: Decimal | None
    is_taker: bool
    created_time: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    """The exchange paying out (or not) a position in a settled market."""

    ticker: str
    event_ticker: str
    result: str
    yes_contracts: Count
    no_contracts: Count
    yes_total_cost: Decimal
    no_total_cost: Decimal
    revenue: Decimal
    settled_time: datetime


@dataclass(frozen=True, slots=True)
class MarketPosition:
    """Net holding in one market: positive = YES contracts, negative = NO contracts."""

    ticker: str
    position: Count
    market_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    balance: Decimal
    portfolio_value: Decimal
