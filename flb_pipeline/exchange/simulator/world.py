"""The simulated world: every event and market listed so far, and their market data.

An event's whole life is drawn when it is listed (see `events.py`): the latent path at every
tick, each market's true probability, its FLB-distorted quotes and the background trades. The
world stores those as (market x trading tick) columns, so reading market data at any time is
array indexing: a scan of thousands of markets stays cheap, and the value at a tick never
depends on when (or whether) someone looked before.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.catalog import (
    FAMILY_SPECS,
    FamilySpec,
    MarketSet,
    SeriesSpec,
)
from flb_pipeline.exchange.simulator.config import SimConfig
from flb_pipeline.exchange.simulator.events import EventDraw, draw_event
from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID
from flb_pipeline.exchange.simulator.grow import GrowableArray
from flb_pipeline.exchange.simulator.schedule import (
    SECONDS_PER_DAY,
    EventSlot,
    history_slots,
    live_schedules,
)

UNOPENED, ACTIVE, CLOSED, DETERMINED, FINALIZED = 0, 1, 2, 3, 4
SETTLED = DETERMINED
"""Status codes from SETTLED on have a result and have paid out."""
STATUS_NAMES = ("initialized", "active", "closed", "determined", "finalized")
FINALIZE_DELAY_S = 300.0
"""A determined market's result becomes final this long after it was determined."""
LISTING_LEAD_FRACTION = 0.25
"""Events are listed (status "initialized") a quarter of a lifetime before they open."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event: a latent value over a lifetime and the markets that bet on where it ends."""

    index: int
    ticker: str
    family: FamilySpec
    series: SeriesSpec
    open_tick: int
    close_tick: int
    first_market: int
    sets: tuple[MarketSet, ...]
    teams: tuple[str, ...]

    @property
    def markets(self) -> range:
        return range(self.first_market, self.first_market + len(self.sets))


class MarketRow(NamedTuple):
    """One market's displayed data (see `MarketData`)."""

    market: int
    status: int
    yes_bid: int
    yes_ask: int
    last_price: int
    volume: int
    volume_24h: int
    previous_yes_bid: int
    previous_yes_ask: int
    previous_price: int
    updated_ts: float


@dataclass(frozen=True, slots=True)
class MarketData:
    """Market data of some markets at one quote tick, aligned with the requested indices;
    prices in mills."""

    status: NDArray[np.int8]
    yes_bid: NDArray[np.int16]
    yes_ask: NDArray[np.int16]
    last_price: NDArray[np.int16]
    volume: NDArray[np.int64]
    volume_24h: NDArray[np.int64]
    previous_yes_bid: NDArray[np.int16]
    previous_yes_ask: NDArray[np.int16]
    previous_price: NDArray[np.int16]
    updated_ts: NDArray[np.float64]

    def rows(self, markets: NDArray) -> Iterator[MarketRow]:
        """Plain-Python rows, cheaper to format than numpy scalars."""
        columns = (getattr(self, name).tolist() for name in MarketRow._fields[1:])
        return map(MarketRow._make, zip(markets.tolist(), *columns, strict=True))


class World:
    """All events and markets known so far; grows as the clock moves."""

    def __init__(self, config: SimConfig, origin_ts: float) -> None:
        self.config = config
        self.origin_ts = origin_ts
        self.tick_s = config.tick_s
        self.lifetime_ticks = max(1, round(config.market_lifetime_s / config.tick_s))
        self.lead_ticks = math.ceil(self.lifetime_ticks * LISTING_LEAD_FRACTION)
        self.day_ticks = round(SECONDS_PER_DAY / config.tick_s)
        self.families = [FAMILY_SPECS[name] for name in config.families]
        self.events: list[Event] = []
        self.event_by_ticker: dict[str, int] = {}
        self.market_tickers: list[str] = []
        self.market_by_ticker: dict[str, int] = {}
        self._schedules = live_schedules(self.families, config.markets_target, self.lifetime_ticks)
        self._init_columns()
        self._materialise(
            history_slots(
                self.families,
                config.history_events,
                config.history_days,
                self.lifetime_ticks,
                config.tick_s,
                config.settle_delay_s,
            )
        )
        self.extend_to(0)

    def _init_columns(self) -> None:
        width = self.lifetime_ticks
        self._market_event = GrowableArray(np.int32)
        self._open_tick = GrowableArray(np.int64)
        self._natural_yes = GrowableArray(np.bool_)
        self._bid = GrowableArray(np.int16, width)
        self._ask = GrowableArray(np.int16, width)
        self._trade_count = GrowableArray(np.int32, width)
        self._trade_price = GrowableArray(np.int16, width)
        self._volume = GrowableArray(np.int32, width)
        self._last_price = GrowableArray(np.int16, width)
        self._p_true = GrowableArray(np.float32, width)
        self._latent = GrowableArray(np.float64, width + 1)
        self._trade_tick = GrowableArray(np.int64)
        self._trade_market = GrowableArray(np.int64)

    # --- time -------------------------------------------------------------------------------

    def tick_ts(self, tick: int | NDArray) -> float | NDArray:
        return self.origin_ts + tick * self.tick_s

    def tick_at(self, ts: float) -> int:
        return math.floor((ts - self.origin_ts) / self.tick_s + 1e-9)

    def settle_ts(self, close_tick: int | NDArray) -> float | NDArray:
        return self.tick_ts(close_tick) + self.config.settle_delay_s

    # --- growth -----------------------------------------------------------------------------

    def extend_to(self, tick: int) -> None:
        """List every live event that opens within the listing lead of `tick`."""
        horizon = tick + self.lead_ticks
        self._materialise(sorted(slot for s in self._schedules for slot in s.due(horizon)))

    def _materialise(self, slots: list[EventSlot]) -> None:
        if not slots:
            return
        draws = [
            draw_event(self.config, self.families[slot.family_index], slot, self.lifetime_ticks)
            for slot in slots
        ]
        for slot, draw in zip(slots, draws, strict=True):
            self._register(slot, draw)
        self._append_columns(slots, draws)

    def _register(self, slot: EventSlot, draw: EventDraw) -> None:
        close_tick = slot.open_tick + self.lifetime_ticks
        ticker = self._unique_event_ticker(draw.series, close_tick, draw.teams)
        event = Event(
            index=len(self.events),
            ticker=ticker,
            family=self.families[slot.family_index],
            series=draw.series,
            open_tick=slot.open_tick,
            close_tick=close_tick,
            first_market=len(self.market_tickers),
            sets=tuple(draw.sets),
            teams=draw.teams,
        )
        self.events.append(event)
        self.event_by_ticker[ticker] = event.index
        for market_set in draw.sets:
            self.market_by_ticker[f"{ticker}-{market_set.suffix}"] = len(self.market_tickers)
            self.market_tickers.append(f"{ticker}-{market_set.suffix}")

    def _unique_event_ticker(self, series: SeriesSpec, close_tick: int, teams: tuple) -> str:
        """Kalshi-style `SERIES-YYMONDDTHHMM[AWAYHOME]`, numbered when a minute repeats."""
        close = datetime.fromtimestamp(self.tick_ts(close_tick), UTC)
        base = f"{series.ticker}-{close:%y%b%d}T{close:%H%M}".upper() + "".join(teams[::-1])
        ticker, copy = base, 1
        while ticker in self.event_by_ticker:
            copy += 1
            ticker = f"{base}-{copy}"
        return ticker

    def _append_columns(self, slots: list[EventSlot], draws: list[EventDraw]) -> None:
        first_event = len(self.events) - len(slots)
        first_market = len(self._market_event)
        counts = [len(draw.sets) for draw in draws]
        open_ticks = np.repeat([slot.open_tick for slot in slots], counts)
        self._market_event.extend(np.repeat(np.arange(first_event, len(self.events)), counts))
        self._open_tick.extend(open_ticks)
        self._natural_yes.extend(np.concatenate([draw.outcomes for draw in draws]))
        self._latent.extend(np.stack([draw.path for draw in draws]))
        self._p_true.extend(np.concatenate([draw.p_true for draw in draws]))
        self._bid.extend(np.concatenate([draw.bid for draw in draws]))
        self._ask.extend(np.concatenate([draw.ask for draw in draws]))
        self._trade_count.extend(np.concatenate([draw.trades.count for draw in draws]))
        self._trade_price.extend(np.concatenate([draw.trades.yes_price for draw in draws]))
        self._volume.extend(np.concatenate([draw.trades.volume for draw in draws]))
        self._last_price.extend(np.concatenate([draw.trades.last_price for draw in draws]))
        rows, cols = np.nonzero(self._trade_count.values[first_market:])
        self._trade_market.extend(rows + first_market)
        self._trade_tick.extend(open_ticks[rows] + cols)

    # --- reads ------------------------------------------------------------------------------

    @property
    def market_count(self) -> int:
        return len(self.market_tickers)

    @property
    def market_event(self) -> NDArray[np.int32]:
        return self._market_event.values

    @property
    def open_tick(self) -> NDArray[np.int64]:
        return self._open_tick.values

    @property
    def close_tick(self) -> NDArray[np.int64]:
        return self._open_tick.values + self.lifetime_ticks

    @property
    def trade_ticks(self) -> NDArray[np.int64]:
        return self._trade_tick.values

    @property
    def trade_markets(self) -> NDArray[np.int64]:
        return self._trade_market.values

    def event_of(self, market: int) -> Event:
        return self.events[int(self._market_event.values[market])]

    def status_codes(self, now: float, markets: NDArray | None = None) -> NDArray[np.int8]:
        """UNOPENED / ACTIVE / CLOSED / DETERMINED / FINALIZED of each market at `now` (all
        when None)."""
        open_tick = self.open_tick if markets is None else self.open_tick[markets]
        close_tick = open_tick + self.lifetime_ticks
        opened = now >= self.tick_ts(open_tick)
        closed = now >= self.tick_ts(close_tick)
        settle_ts = self.settle_ts(close_tick)
        settled = now >= settle_ts
        final = now >= settle_ts + FINALIZE_DELAY_S
        return (opened.astype(np.int8) + closed + settled + final).astype(np.int8)

    def natural_yes(self, market: int) -> bool:
        """The outcome the latent path produced (settlement faults may override it)."""
        return bool(self._natural_yes.values[market])

    def market_data(self, markets: NDArray, quote_tick: int, now: float) -> MarketData:
        """Quotes, last trade and volume of `markets` as displayed at `quote_tick`.

        A market that opened after `quote_tick` (books frozen earlier) shows its opening quote.
        """
        status = self.status_codes(now, markets)
        open_tick = self.open_tick[markets]
        column = np.clip(quote_tick - open_tick, 0, self.lifetime_ticks - 1)
        listed_only = status == UNOPENED
        day_ago = quote_tick - self.day_ticks - open_tick
        traded_day_ago = (day_ago >= 0) & (day_ago < self.lifetime_ticks)
        day_column = np.clip(day_ago, 0, self.lifetime_ticks - 1)
        volume = np.where(listed_only, 0, self._volume.values[markets, column])
        volume_day_ago = np.where(traded_day_ago, self._volume.values[markets, day_column], 0)
        updated_tick = np.where(listed_only, open_tick - self.lead_ticks, open_tick + column)
        return MarketData(
            status=status,
            yes_bid=np.where(listed_only, NO_BID, self._bid.values[markets, column]),
            yes_ask=np.where(listed_only, NO_ASK, self._ask.values[markets, column]),
            last_price=np.where(listed_only, 0, self._last_price.values[markets, column]),
            volume=volume,
            volume_24h=volume - volume_day_ago,
            previous_yes_bid=np.where(traded_day_ago, self._bid.values[markets, day_column], 0),
            previous_yes_ask=np.where(traded_day_ago, self._ask.values[markets, day_column], 0),
            previous_price=np.where(
                traded_day_ago, self._last_price.values[markets, day_column], 0
            ),
            updated_ts=self.tick_ts(updated_tick),
        )

    def quote_at(self, market: int, tick: int) -> tuple[int, int]:
        """(yes_bid, yes_ask) shown at `tick`, clamped to the market's trading ticks."""
        column = self._column(market, tick)
        return int(self._bid.values[market, column]), int(self._ask.values[market, column])

    def quote_series(self, market: int) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
        """YES bid and ask at every trading tick, first tick = the market's open tick."""
        return self._bid.values[market], self._ask.values[market]

    def trade_series(self, market: int) -> tuple[NDArray[np.int32], NDArray[np.int16]]:
        """Background trade size (0 = none) and YES price at every trading tick."""
        return self._trade_count.values[market], self._trade_price.values[market]

    def volume_series(self, market: int) -> NDArray[np.int32]:
        return self._volume.values[market]

    def last_price_series(self, market: int) -> NDArray[np.int16]:
        """Last traded YES price at every trading tick (0 before the first trade)."""
        return self._last_price.values[market]

    def truth(self, market: int, tick: int) -> tuple[float, float]:
        """Hidden (true probability, latent value) at `tick`, for tests and diagnostics."""
        event = self.event_of(market)
        column = self._column(market, tick)
        latent_column = int(np.clip(tick - event.open_tick, 0, self.lifetime_ticks))
        latent = float(self._latent.values[event.index, latent_column])
        if tick >= event.close_tick:
            return float(self.natural_yes(market)), latent
        return float(self._p_true.values[market, column]), latent

    def latent_at_close(self, event: Event) -> float:
        return float(self._latent.values[event.index, self.lifetime_ticks])

    def _column(self, market: int, tick: int) -> int:
        return int(np.clip(tick - self._open_tick.values[market], 0, self.lifetime_ticks - 1))
