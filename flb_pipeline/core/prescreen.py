"""The vectorised half of screening: every quote row at once, then per threshold cell.

The live screens (`core.strategy`) look at one market at a time; run row by row over millions
of recorded quotes they would take minutes. So the backtester first applies, to all rows at
once with numpy, conditions that every live candidate must meet: a two-sided quote of a
trading market, a model that knows the family and passes the gate there, a fee schedule we
can price, the time-to-close window, a favourite's price, and an edge at least `min_edge`
when the fee is the unrounded one (the charged fee is never smaller, so this edge is an upper
bound). Only rows that pass go on to the live decision path, which decides exactly as live.
The conditions are necessary, never sufficient: they can only let through too much, which
the exact path then drops, so the orders are the same as running every row through it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from flb_pipeline.core.fees import TAKER_RATE, FeeSchedule, schedules_of
from flb_pipeline.core.replay_history import NO_PRICE, PRICE_UNITS, ReplayHistory
from flb_pipeline.core.replay_models import ModelSchedule
from flb_pipeline.core.strategy import Assessment, StrategyThresholds

EDGE_SLACK = 1e-6
"""Edges are kept in float32; a row this close below `min_edge` still goes to the exact path."""
WINDOW_SLACK_S = 1.0


@dataclass(frozen=True, eq=False)
class Screenable:
    """Rows (indices into the history's quotes) a decision could trade on under some
    thresholds, with what the per-cell screens compare; `skipped` counts the others by the
    first reason that excludes them."""

    rows: np.ndarray
    seconds_to_close: np.ndarray
    yes_ask: np.ndarray
    no_ask: np.ndarray
    yes_edge: np.ndarray
    no_edge: np.ndarray
    skipped: Mapping[str, int] = field(default_factory=dict)
    yes_probability: np.ndarray | None = None
    """The model's YES probability of each row (all of them passed its gate), computed here
    by `WinProbabilityModel.assess` for every row at once; None: not computed."""

    def assessment(self, rows: np.ndarray) -> Assessment | None:
        """What `assess` answered for `rows` (a subset of `self.rows`), in their order."""
        if self.yes_probability is None:
            return None
        probability = self.yes_probability[np.searchsorted(self.rows, rows)]
        return probability, np.ones(len(rows), dtype=bool)

    def survivors(self, thresholds: StrategyThresholds) -> np.ndarray:
        """Rows that may become candidates under `thresholds`, in decision order."""
        seconds = self.seconds_to_close
        window = (seconds >= thresholds.min_seconds_to_close - WINDOW_SLACK_S) & (
            seconds <= thresholds.max_seconds_to_close + WINDOW_SLACK_S
        )
        floor = int(Decimal(thresholds.min_favourite_price) * PRICE_UNITS)  # rounds down
        edge = thresholds.min_edge - EDGE_SLACK
        yes = (self.yes_ask >= floor) & (self.yes_ask < PRICE_UNITS) & (self.yes_edge >= edge)
        no = (self.no_ask >= floor) & (self.no_ask < PRICE_UNITS) & (self.no_edge >= edge)
        return self.rows[window & (yes | no)]


def screenable(
    history: ReplayHistory, schedule: ModelSchedule, start: float, end: float
) -> Screenable:
    """Every quote row with `start <= ts < end` through the threshold-free screens."""
    quotes, markets = history.quotes, history.markets
    skipped: Counter[str] = Counter()
    first, last = np.searchsorted(quotes.ts, [start, end], side="left")
    rows = np.arange(first, last)
    segment = schedule.segment_of(quotes.ts[rows])
    keep = _first_reasons(history, rows, segment, schedule, skipped)
    rows, segment = rows[keep], segment[keep]
    market = quotes.market[rows]
    mid = (quotes.yes_bid[rows].astype(float) + quotes.yes_ask[rows]) / (2 * PRICE_UNITS)
    seconds = markets.close_ts[market] - quotes.ts[rows]
    q_yes = np.full(len(rows), np.nan)
    tradeable = np.zeros(len(rows), dtype=bool)
    for index, version in enumerate(schedule.versions):
        part = np.flatnonzero(segment == index)
        if version.model is not None and len(part):
            q, ok = version.model.assess(mid[part], markets.family[market[part]], seconds[part])
            q_yes[part], tradeable[part] = q, ok
    known = np.isfinite(q_yes)
    skipped["unknown_family"] += int((~known).sum())
    skipped["model_not_tradeable_here"] += int((known & ~tradeable).sum())
    keep = known & tradeable
    rows, market, seconds, q_yes = rows[keep], market[keep], seconds[keep], q_yes[keep]
    rate = _taker_rate(history, market)
    yes_ask = quotes.yes_ask[rows]
    no_ask = quotes.no_ask[rows]
    return Screenable(
        rows=rows,
        seconds_to_close=seconds,
        yes_ask=yes_ask,
        no_ask=no_ask,
        yes_edge=_edge_bound(q_yes, yes_ask, rate),
        no_edge=_edge_bound(1 - q_yes, no_ask, rate),
        skipped=dict(skipped),
        yes_probability=q_yes,
    )


def _first_reasons(
    history: ReplayHistory,
    rows: np.ndarray,
    segment: np.ndarray,
    schedule: ModelSchedule,
    skipped: Counter[str],
) -> np.ndarray:
    """Rows that pass the market-level screens that need no model; the rest counted."""
    quotes = history.quotes
    has_model = np.array([v.model is not None for v in schedule.versions] + [False])
    checks = [
        ("not_active", quotes.active[rows]),
        ("no_book", (quotes.yes_bid[rows] != NO_PRICE) & (quotes.yes_ask[rows] != NO_PRICE)),
        ("unsupported_fee_type", _priced(history)[quotes.market[rows]]),
        ("no_model", has_model[segment]),
    ]
    keep = np.ones(len(rows), dtype=bool)
    for reason, passed in checks:
        skipped[reason] += int((keep & ~passed).sum())
        keep &= passed
    return keep


def _schedules(history: ReplayHistory) -> Mapping[str, FeeSchedule | None]:
    return schedules_of(history.series)


def _priced(history: ReplayHistory) -> np.ndarray:
    schedules = _schedules(history)
    return np.array(
        [schedules.get(s) is not None for s in history.markets.series_ticker.tolist()], dtype=bool
    )


def _taker_rate(history: ReplayHistory, market: np.ndarray) -> np.ndarray:
    """The unrounded taker fee per contract is rate × P(1 − P); rate per market."""
    schedules = _schedules(history)
    per_market = np.array(
        [
            float(TAKER_RATE * schedule.multiplier) if (schedule := schedules.get(s)) else 0.0
            for s in history.markets.series_ticker.tolist()
        ]
    )
    return per_market[market]


def _edge_bound(q: np.ndarray, ask_units: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """q − ask − unrounded fee per contract; −inf where the side has no ask."""
    ask = ask_units / PRICE_UNITS
    edge = q - ask - rate * ask * (1 - ask)
    return np.where(ask_units == NO_PRICE, -np.inf, edge).astype(np.float32)
