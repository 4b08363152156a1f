"""Market-data and exchange routes: status and schedule, series and their fee changes,
events, markets, books, trades, candles, the historical tier and the account's API limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.routing import Route

from flb_pipeline.exchange.simulator.candles import (
    HISTORICAL,
    LEGACY,
    LIVE,
    candlesticks,
    period_seconds,
)
from flb_pipeline.exchange.simulator.endpoints import Call, api_route
from flb_pipeline.exchange.simulator.errors import bad_request, not_found
from flb_pipeline.exchange.simulator.listing import (
    EVENTS_MAX_LIMIT,
    HISTORICAL_TIER,
    LIVE_TIER,
    MARKETS_MAX_LIMIT,
    csv_param,
    decode_cursor,
    encode_cursor,
    historical_cutoff_ts,
    int_param,
    limit_param,
    page_positions,
    require_tier,
    select_events,
    select_markets,
    ts_param,
)
from flb_pipeline.exchange.simulator.units import iso
from flb_pipeline.exchange.simulator.wire import orderbook_json, series_json

MAX_BATCH_CANDLE_MARKETS = 100
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def exchange_status(call: Call) -> dict[str, Any]:
    pause = call.state.exchange.trading_pause()
    body: dict[str, Any] = {"exchange_active": True, "trading_active": pause is None}
    if pause is not None:
        body["exchange_estimated_resume_time"] = iso(pause.end_ts)
    return body


def exchange_schedule(call: Call) -> dict[str, Any]:
    """Open around the clock, with the maintenance windows and scheduled pauses ahead."""
    exchange = call.state.exchange
    always_open = [{"open_time": "00:00", "close_time": "23:59"}]
    year = datetime.fromtimestamp(exchange.now, UTC).year
    return {
        "schedule": {
            "standard_hours": [
                {
                    "start_time": f"{year}-01-01T00:00:00Z",
                    "end_time": f"{year + 1}-01-01T00:00:00Z",
                    **dict.fromkeys(_WEEKDAYS, always_open),
                }
            ],
            "maintenance_windows": [
                {"start_datetime": iso(p.start_ts), "end_datetime": iso(p.end_ts)}
                for p in exchange.pauses.upcoming(exchange.now)
            ],
        }
    }


def account_limits(call: Call) -> dict[str, Any]:
    return call.state.limiter.limits_json()


def series_list(call: Call) -> dict[str, Any]:
    category = call.params.get("category")
    return {
        "series": [
            series_json(family, series)
            for family in call.state.exchange.world.families
            for series in family.series
            if not category or family.category == category
        ]
    }


def series_one(call: Call) -> dict[str, Any]:
    ticker = call.path["series_ticker"]
    for family in call.state.exchange.world.families:
        for series in family.series:
            if series.ticker == ticker:
                return {"series": series_json(family, series)}
    raise not_found(f"series {ticker}")


def series_fee_changes(call: Call) -> dict[str, Any]:
    wanted = call.params.get("series_ticker")
    return {
        "series_fee_change_arr": [
            {
                "id": f"fee-change-{number}",
                "series_ticker": change.series_ticker,
                "fee_type": change.fee_type,
                "fee_multiplier": float(change.multiplier),
                "scheduled_ts": iso(change.scheduled_at.timestamp()),
            }
            for number, change in enumerate(call.state.exchange.fee_changes)
            if not wanted or change.series_ticker == wanted
        ]
    }


def events(call: Call) -> dict[str, Any]:
    selected = select_events(call.state.exchange, call.params)
    limit = limit_param(call.params, EVENTS_MAX_LIMIT, EVENTS_MAX_LIMIT)
    page, cursor = page_positions(selected, limit, call.params.get("cursor"))
    nested = call.params.get("with_nested_markets", "").lower() == "true"
    world = call.state.exchange.world
    return {
        "events": [
            call.state.markets.event_json(world.events[index], nested_markets=nested)
            for index in page.tolist()
        ],
        "cursor": cursor,
    }


def event_one(call: Call) -> dict[str, Any]:
    world = call.state.exchange.world
    index = world.event_by_ticker.get(call.path["event_ticker"])
    if index is None:
        raise not_found(f"event {call.path['event_ticker']}")
    event = world.events[index]
    nested = call.params.get("with_nested_markets", "").lower() == "true"
    return {
        "event": call.state.markets.event_json(event, nested_markets=nested),
        "markets": call.state.markets.markets_json(np.array(event.markets)),
    }


def _markets_page(call: Call, tier: str) -> dict[str, Any]:
    selected = select_markets(call.state.exchange, call.params, tier)
    limit = limit_param(call.params, 100, MARKETS_MAX_LIMIT)
    page, cursor = page_positions(selected, limit, call.params.get("cursor"))
    return {"markets": call.state.markets.markets_json(page), "cursor": cursor}


def markets(call: Call) -> dict[str, Any]:
    return _markets_page(call, LIVE_TIER)


def historical_markets(call: Call) -> dict[str, Any]:
    return _markets_page(call, HISTORICAL_TIER)


def _market_one(call: Call, tier: str) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    require_tier(exchange, market, tier)
    return {"market": call.state.markets.markets_json(np.array([market]))[0]}


def market_one(call: Call) -> dict[str, Any]:
    return _market_one(call, LIVE_TIER)


def historical_market_one(call: Call) -> dict[str, Any]:
    return _market_one(call, HISTORICAL_TIER)


def historical_cutoff(call: Call) -> dict[str, Any]:
    cutoff = iso(historical_cutoff_ts(call.state.exchange))
    return {
        "market_settled_ts": cutoff,
        "trades_created_ts": cutoff,
        "orders_updated_ts": cutoff,
    }


def orderbook(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    depth = int_param(call.params, "depth", 0, 0, 100)
    return orderbook_json(exchange.book(market), depth, legacy=call.state.config.legacy)


def trades(call: Call) -> dict[str, Any]:
    state = call.state
    ticker = call.params.get("ticker")
    market = state.exchange.market_index(ticker) if ticker else None
    min_ts, max_ts = ts_param(call.params, "min_ts"), ts_param(call.params, "max_ts")
    tick_range = state.tape.tick_range(state.exchange.quote_tick(), min_ts, max_ts)
    limit = limit_param(call.params, 100, MARKETS_MAX_LIMIT)
    page, last_key = state.tape.page(
        market, tick_range, limit, decode_cursor(call.params.get("cursor"))
    )
    legacy = state.config.legacy
    return {
        "trades": [state.tape.trade_json(tick, market, legacy=legacy) for tick, market in page],
        "cursor": "" if last_key is None else encode_cursor(last_key),
    }


def market_candlesticks(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    if exchange.world.event_of(market).series.ticker != call.path["series_ticker"]:
        raise not_found(f"market {call.path['ticker']} in series {call.path['series_ticker']}")
    require_tier(exchange, market, LIVE_TIER)
    return {"ticker": call.path["ticker"], "candlesticks": _candles(call, market, _live(call))}


def historical_candlesticks(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    require_tier(exchange, market, HISTORICAL_TIER)
    return {"ticker": call.path["ticker"], "candlesticks": _candles(call, market, HISTORICAL)}


def batch_candlesticks(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    tickers = csv_param(call.params, "market_tickers") or []
    if not 1 <= len(tickers) <= MAX_BATCH_CANDLE_MARKETS:
        raise bad_request("invalid_parameters", "market_tickers takes 1..100 tickers")
    markets = [exchange.market_index(ticker) for ticker in tickers]
    for market in markets:
        require_tier(exchange, market, LIVE_TIER)
    return {
        "markets": [
            {"market_ticker": ticker, "candlesticks": _candles(call, market, _live(call))}
            for ticker, market in zip(tickers, markets, strict=True)
        ]
    }


def _live(call: Call) -> str:
    return LEGACY if call.state.config.legacy else LIVE


def _candles(call: Call, market: int, form: str) -> list[dict[str, Any]]:
    exchange = call.state.exchange
    period = period_seconds(int_param(call.params, "period_interval", None, 1, 1440))
    start = ts_param(call.params, "start_ts") or 0
    end = ts_param(call.params, "end_ts")
    window = (start, int(exchange.now) if end is None else end)
    return candlesticks(exchange.world, market, exchange.quote_tick(), window, period, form)


ROUTES: list[Route] = [
    api_route("/exchange/status", exchange_status),
    api_route("/exchange/schedule", exchange_schedule),
    api_route("/account/limits", account_limits, private=True),
    api_route("/series", series_list),
    api_route("/series/fee_changes", series_fee_changes),
    api_route("/series/{series_ticker}", series_one),
    api_route("/series/{series_ticker}/markets/{ticker}/candlesticks", market_candlesticks),
    api_route("/events", events),
    api_route("/events/{event_ticker}", event_one),
    api_route("/markets", markets),
    api_route("/markets/trades", trades),
    api_route("/markets/candlesticks", batch_candlesticks),
    api_route("/markets/{ticker}", market_one),
    api_route("/markets/{ticker}/orderbook", orderbook),
    api_route("/historical/cutoff", historical_cutoff),
    api_route("/historical/markets", historical_markets),
    api_route("/historical/markets/{ticker}", historical_market_one),
    api_route("/historical/markets/{ticker}/candlesticks", historical_candlesticks),
]
