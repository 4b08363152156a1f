"""Query parameters, filters and cursor pagination shared by the list endpoints.

Cursors are opaque (base64 of the last returned position) and select strictly after that
position, so a page sequence stays consistent while new markets are listed mid-scan. The last
page returns cursor "" as Kalshi does.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.errors import bad_request, not_found
from flb_pipeline.exchange.simulator.exchange import Exchange
from flb_pipeline.exchange.simulator.world import (
    ACTIVE,
    CLOSED,
    DETERMINED,
    FINALIZED,
    SETTLED,
    UNOPENED,
)

STATUS_FILTERS = {
    "unopened": (UNOPENED,),
    "open": (ACTIVE,),
    "closed": (CLOSED,),
    "settled": (DETERMINED, FINALIZED),
}
"""The `status` filter's values and the lifecycle statuses each one selects."""
LIVE_TIER, HISTORICAL_TIER = "live", "historical"
MARKETS_MAX_LIMIT = 1000
EVENTS_MAX_LIMIT = 200
Item = TypeVar("Item")


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text[:1] == "p":
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_request("invalid_cursor", "cursor is not one this exchange issued")


def int_param(
    params: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within [low, high]; anything else is a 400."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request("invalid_parameters", f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise bad_request("invalid_parameters", f"{name} must be within {low}..{high}")
    return value


def limit_param(params: Mapping[str, str], default: int, maximum: int) -> int:
    return int_param(params, "limit", default, 1, maximum) or default


def ts_param(params: Mapping[str, str], name: str) -> int | None:
    return int_param(params, name, None, 0, 2**42)


def csv_param(params: Mapping[str, str], name: str) -> list[str] | None:
    raw = params.get(name)
    if not raw:
        return None
    return [item for item in raw.split(",") if item]


def status_codes_param(params: Mapping[str, str]) -> list[int] | None:
    names = csv_param(params, "status")
    if names is None:
        return None
    unknown = [name for name in names if name not in STATUS_FILTERS]
    if unknown:
        raise bad_request("invalid_parameters", f"unknown status {unknown}")
    return [code for name in names for code in STATUS_FILTERS[name]]


def historical_markets(exchange: Exchange) -> NDArray[np.bool_]:
    """Markets settled before the historical cutoff: served only by `/historical/...`."""
    world = exchange.world
    settled = world.status_codes(exchange.now) >= SETTLED
    return settled & (world.settle_ts(world.close_tick) < historical_cutoff_ts(exchange))


def historical_cutoff_ts(exchange: Exchange) -> float:
    return exchange.now - exchange.config.historical_cutoff_s


def require_tier(exchange: Exchange, market: int, tier: str) -> None:
    """404 for a market asked of the tier that does not serve it, as Kalshi answers."""
    in_history = bool(historical_markets(exchange)[market])
    if in_history != (tier == HISTORICAL_TIER):
        raise not_found(f"market {exchange.world.market_tickers[market]} in the {tier} tier")


def page_positions(
    selected: NDArray[np.int64], limit: int, cursor: str | None
) -> tuple[NDArray[np.int64], str]:
    """One page of ascending positions after the cursor, and the next cursor."""
    after = decode_cursor(cursor)
    if after is not None:
        selected = selected[np.searchsorted(selected, after, side="right") :]
    page = selected[:limit]
    return page, encode_cursor(int(page[-1])) if len(selected) > limit else ""


def page_newest_first(
    items: Sequence[Item], sequences: Sequence[int], limit: int, cursor: str | None
) -> tuple[list[Item], str]:
    """A page of an append-only log, newest first; `sequences` ascend alongside `items`."""
    before = decode_cursor(cursor)
    end = len(items) if before is None else bisect.bisect_left(sequences, before)
    start = max(0, end - limit)
    page = list(items[start:end])[::-1]
    return page, encode_cursor(sequences[start]) if start > 0 else ""


def select_markets(
    exchange: Exchange, params: Mapping[str, str], tier: str = LIVE_TIER
) -> NDArray[np.int64]:
    """Indices of markets matching Kalshi's GET /markets filters, in listing order, from
    the live tier or the historical one."""
    world = exchange.world
    in_history = historical_markets(exchange)
    mask = in_history if tier == HISTORICAL_TIER else ~in_history
    mve = params.get("mve_filter")
    if mve not in (None, "", "exclude", "only"):
        raise bad_request("invalid_parameters", "mve_filter must be exclude or only")
    if mve == "only":
        mask[:] = False
    statuses = status_codes_param(params)
    codes = world.status_codes(exchange.now)
    if statuses is not None:
        mask &= np.isin(codes, statuses)
    events = _event_filter(exchange, params)
    if events is not None:
        mask &= np.isin(world.market_event, events)
    tickers = csv_param(params, "tickers")
    if tickers is not None:
        wanted = [world.market_by_ticker[t] for t in tickers if t in world.market_by_ticker]
        mask &= np.isin(np.arange(world.market_count), wanted)
    close_ts = world.tick_ts(world.close_tick)
    mask &= _within(close_ts, ts_param(params, "min_close_ts"), ts_param(params, "max_close_ts"))
    min_settled = ts_param(params, "min_settled_ts")
    max_settled = ts_param(params, "max_settled_ts")
    if min_settled is not None or max_settled is not None:
        mask &= codes >= SETTLED
        mask &= _within(world.settle_ts(world.close_tick), min_settled, max_settled)
    return np.flatnonzero(mask)


def select_events(exchange: Exchange, params: Mapping[str, str]) -> NDArray[np.int64]:
    """Indices of events matching GET /events filters; an event's status is its markets'."""
    world = exchange.world
    first_markets = np.array([event.first_market for event in world.events], dtype=np.int64)
    mask = np.ones(len(world.events), dtype=bool)
    statuses = status_codes_param(params)
    if statuses is not None and len(first_markets):
        mask &= np.isin(world.status_codes(exchange.now, first_markets), statuses)
    events = _event_filter(exchange, params)
    if events is not None:
        mask &= np.isin(np.arange(len(world.events)), events)
    return np.flatnonzero(mask)


def _event_filter(exchange: Exchange, params: Mapping[str, str]) -> list[int] | None:
    """Event indices allowed by series_ticker / event_ticker, or None when unfiltered."""
    world = exchange.world
    series = params.get("series_ticker")
    event_tickers = csv_param(params, "event_ticker")
    if not series and event_tickers is None:
        return None
    allowed = range(len(world.events))
    if event_tickers is not None:
        allowed = [world.event_by_ticker[t] for t in event_tickers if t in world.event_by_ticker]
    if series:
        allowed = [index for index in allowed if world.events[index].series.ticker == series]
    return list(allowed)


def _within(values: NDArray, low: int | None, high: int | None) -> NDArray[np.bool_]:
    mask = np.ones(len(values), dtype=bool)
    if low is not None:
        mask &= values >= low
    if high is not None:
        mask &= values <= high
    return mask
