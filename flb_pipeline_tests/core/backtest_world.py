"""A seeded recorded history with known truth, for the backtester's tests and benchmarks.

Each market is its own event. Its true YES probability moves by a bounded martingale
(p' ~ Beta(κp, κ(1 − p)), so E[p'] = p) at every decision step and the market settles YES
with the last probability; quotes are that truth distorted by a known calibration slope
(`logit(truth) = a + b·logit(price)`), rounded to a whole-cent book with a 1–3¢ spread, as
the simulator quotes. Other traders print at the bid or the ask at random. The truth of every
quote row is kept, so a backtest's expected P&L is known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
from scipy.special import expit, logit

from flb_pipeline.core.calibration import HorizonBuckets
from flb_pipeline.core.families import market_family
from flb_pipeline.core.gate import GateRules
from flb_pipeline.core.horizon_prices import HorizonQuotes
from flb_pipeline.core.model_fit import ModelSettings
from flb_pipeline.core.records import SeriesInfo
from flb_pipeline.core.replay_history import (
    COUNT_UNITS,
    NO_PRICE,
    PRICE_UNITS,
    ReplayHistory,
    build_history,
)

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # midnight in New York
FAMILIES = (
    ("KXHIGHTEST", "Climate and Weather"),
    ("KXINXTEST", "Financials"),
)
TRAINING_HORIZONS_S = (300.0, 900.0, 1_800.0)
TEST_MODEL = ModelSettings(
    horizons_s=TRAINING_HORIZONS_S,
    buckets=HorizonBuckets((3_600.0,)),
    min_points=200,
    rules=GateRules(min_points=30, min_events=20, fdr=1.0),
)
"""Gate with false-discovery control off: a few days of synthetic markets cannot prove edge per
cell, and the backtests need a model that trades (the no-bias tests use it too: it is the
harder case, since noise then gets traded)."""


@dataclass(frozen=True)
class ReplayWorld:
    slope: float = 1.3
    intercept: float = 0.0
    days: float = 2.0
    markets_per_day: int = 300
    lifetime_s: float = 3_600.0
    step_s: float = 60.0
    concentration: float = 600.0
    trade_probability: float = 0.3
    start_ts: float = START.timestamp()


@dataclass(frozen=True, eq=False)
class WorldHistory:
    history: ReplayHistory
    truth: np.ndarray
    """True YES probability per (market, decision step), markets in the history's order."""
    world: ReplayWorld

    def truth_at(self, ticker: str, ts: float) -> float:
        market = self.history.markets.ticker.tolist().index(ticker)
        step = round((ts - self.history.markets.open_ts[market]) / self.world.step_s)
        return float(self.truth[market, step])

    @property
    def end_ts(self) -> float:
        return self.world.start_ts + self.world.days * 86_400.0


def series_infos() -> dict[str, SeriesInfo]:
    return {
        ticker: SeriesInfo(ticker, ticker, category, "quadratic", Decimal(1))
        for ticker, category in FAMILIES
    }


def world_history(seed: int, world: ReplayWorld | None = None) -> WorldHistory:
    world = world or ReplayWorld()
    columns = world_columns(seed, world)
    history = build_history(
        columns.markets, columns.quotes, columns.trades, columns.training, series_infos(),
        step_s=world.step_s,
    )  # fmt: skip
    return WorldHistory(history, columns.truth, world)


def broken_history(seed: int) -> WorldHistory:
    """A small world with bad records in it: 3 markets without a result, 5 crossed quotes
    and 7 candles missing from the middle of a market's life."""
    world = ReplayWorld(days=0.5, markets_per_day=200)
    columns = world_columns(seed, world)
    columns.markets["result"][:3] = np.array([None, "", "void"], dtype=object)
    quotes = columns.quotes
    steps = int(world.lifetime_s / world.step_s)
    crossed = np.arange(5) * steps + 10 * steps + 20  # markets 10..14, one row each
    quotes["yes_bid"][crossed] = quotes["yes_ask"][crossed]
    keep = np.ones(len(quotes["ts"]), dtype=bool)
    keep[50 * steps + 20 : 50 * steps + 27] = False  # market 50 misses 7 minutes
    history = build_history(
        columns.markets, {name: values[keep] for name, values in quotes.items()},
        columns.trades, columns.training, series_infos(), step_s=world.step_s,
    )  # fmt: skip
    return WorldHistory(history, columns.truth, world)


@dataclass(frozen=True, eq=False)
class WorldColumns:
    """The world as the store would export it: columns per table, and the hidden truth."""

    markets: dict[str, np.ndarray]
    quotes: dict[str, np.ndarray]
    trades: dict[str, np.ndarray]
    training: HorizonQuotes
    truth: np.ndarray


def world_columns(seed: int, world: ReplayWorld) -> WorldColumns:
    rng = np.random.default_rng(seed)
    n = int(world.days * world.markets_per_day)
    steps = int(world.lifetime_s / world.step_s)
    latest_open = world.days * 86_400.0 - world.lifetime_s
    offsets = np.sort(rng.integers(0, int(latest_open / world.step_s), n)) * world.step_s
    open_ts = world.start_ts + offsets
    close_ts = open_ts + world.lifetime_s
    truth = _truth_paths(rng, n, steps + 1, world.concentration)
    outcome = rng.random(n) < truth[:, -1]
    family = np.arange(n) % len(FAMILIES)
    series = np.array([FAMILIES[f][0] for f in family], dtype=object)
    tickers = np.array([f"{s}-M{i:05d}" for i, s in enumerate(series)], dtype=object)
    markets = {
        "ticker": tickers,
        "event_ticker": np.array([f"{t}-E" for t in tickers], dtype=object),
        "series_ticker": series,
        "category": np.array([FAMILIES[f][1] for f in family], dtype=object),
        "open_ts": open_ts,
        "close_ts": close_ts,
        "result": np.where(outcome, "yes", "no").astype(object),
    }
    bid, ask = _book(rng, truth[:, :steps], world)
    ts = open_ts[:, None] + np.arange(steps)[None, :] * world.step_s
    market = np.broadcast_to(np.arange(n)[:, None], (n, steps))
    quotes = {
        "market": market.ravel().copy(),
        "ts": ts.ravel(),
        "yes_bid": bid.ravel(),
        "yes_ask": ask.ravel(),
    }
    return WorldColumns(
        markets,
        quotes,
        _trades(rng, bid, ask, ts, world),
        _training(markets, family, outcome, bid, ask, world),
        truth[:, :steps],
    )


def _truth_paths(rng: np.random.Generator, n: int, steps: int, kappa: float) -> np.ndarray:
    paths = np.empty((n, steps))
    paths[:, 0] = rng.beta(0.5, 0.5, n).clip(0.01, 0.99)
    for step in range(1, steps):
        previous = paths[:, step - 1].clip(1e-6, 1 - 1e-6)
        paths[:, step] = rng.beta(kappa * previous, kappa * (1 - previous))
    return paths


def _book(
    rng: np.random.Generator, truth: np.ndarray, world: ReplayWorld
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-cent YES bid and ask around the distorted price, in price units."""
    price = expit((logit(truth.clip(1e-9, 1 - 1e-9)) - world.intercept) / world.slope)
    width = rng.integers(1, 4, truth.shape[0])[:, None]
    bid = np.floor(price * 100 - width / 2 + 0.5).astype(np.int64)
    ask = bid + width
    bid_units = np.where(bid < 1, NO_PRICE, np.minimum(bid, 99) * 100)
    ask_units = np.where(ask > 99, NO_PRICE, np.maximum(ask, 1) * 100)
    return bid_units.astype(np.int16), ask_units.astype(np.int16)


def _trades(
    rng: np.random.Generator, bid: np.ndarray, ask: np.ndarray, ts: np.ndarray, world: ReplayWorld
) -> dict[str, np.ndarray]:
    """Prints half a step after a quote: takers lift the ask or hit the bid."""
    buys = rng.random(bid.shape) < 0.5
    price = np.where(buys, ask, bid)
    happens = (rng.random(bid.shape) < world.trade_probability) & (price != NO_PRICE)
    market, step = np.nonzero(happens)
    return {
        "market": market,
        "ts": ts[market, step] + world.step_s / 2,
        "yes_price": price[market, step],
        "count": rng.integers(1, 61, len(market)) * COUNT_UNITS,
        "taker_bought_yes": buys[market, step],
    }


def _training(
    markets: dict[str, np.ndarray],
    family: np.ndarray,
    outcome: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    world: ReplayWorld,
) -> HorizonQuotes:
    """Each market's candle at each training horizon before its close."""
    steps = bid.shape[1]
    rows = []
    for horizon in TRAINING_HORIZONS_S:
        column = steps - int(horizon / world.step_s)
        rows.append((horizon, bid[:, column], ask[:, column]))
    n = len(outcome)
    names = np.array([market_family(None, FAMILIES[f][1]) for f in family], dtype=object)
    close = markets["close_ts"]
    return HorizonQuotes(
        event=np.tile(markets["event_ticker"], len(rows)),
        family=np.tile(names, len(rows)),
        outcome=np.tile(outcome.astype(int), len(rows)),
        open_ts=np.tile(markets["open_ts"], len(rows)),
        close_ts=np.tile(close, len(rows)),
        horizon_s=np.repeat([h for h, _, _ in rows], n),
        candle_ts=np.concatenate([close - h for h, _, _ in rows]),
        yes_bid=np.concatenate([_dollars(b) for _, b, _ in rows]),
        yes_ask=np.concatenate([_dollars(a) for _, _, a in rows]),
    )


def _dollars(units: np.ndarray) -> np.ndarray:
    return np.where(units == NO_PRICE, np.nan, units / PRICE_UNITS)
