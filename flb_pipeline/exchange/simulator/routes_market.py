"""Market-data routes: exchange status, series, events, markets, books, trades, candles."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.routing import Route

from flb_pipeline.exchange.simulator.candles import candlesticks, period_seconds
from flb_pipeline.exchange.simulator.endpoints import Call, api_route
from flb_pipeline.exchange.simulator.errors import bad_request, not_found
from flb_pipeline.exchange.simulator.listing import (
    EVENTS_MAX_LIMIT,
    MARKETS_MAX_LIMIT,
    csv_param,
    decode_cursor,
    encode_cursor,
    int_param,
    limit_param,
    page_positions,
    select_events,
    select_markets,
    ts_param,
)
from flb_pipeline.exchange.simulator.wire import orderbook_json, series_json

MAX_BATCH_CANDLE_MARKETS = 100


def exchange_status(call: Call) -> dict[str, Any]:
    return {"exchange_active": True, "trading_active": True}


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


def markets(call: Call) -> dict[str, Any]:
    selected = select_markets(call.state.exchange, call.params)
    limit = limit_param(call.params, 100, MARKETS_MAX_LIMIT)
    page, cursor = page_positions(selected, limit, call.params.get("cursor"))
    return {"markets": call.state.markets.markets_json(page), "cursor": cursor}


def market_one(call: Call) -> dict[str, Any]:
    market = call.state.exchange.market_index(call.path["ticker"])
    return {"market": call.state.markets.markets_json(np.array([market]))[0]}


def orderbook(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    depth = int_param(call.params, "depth", 0, 0, 100)
    return orderbook_json(exchange.book(market), depth)


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
    return {
        "trades": [state.tape.trade_json(tick, market) for tick, market in page],
        "cursor": "" if last_key is None else encode_cursor(last_key),
    }


def market_candlesticks(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    if exchange.world.event_of(market).series.ticker != call.path["series_ticker"]:
        raise not_found(f"market {call.path['ticker']} in series {call.path['series_ticker']}")
    return {"ticker": call.path["ticker"], "candlesticks": _candles(call, market)}


def batch_candlesticks(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    tickers = csv_param(call.params, "market_tickers") or []
    if not 1 <= len(tickers) <= MAX_BATCH_CANDLE_MARKETS:
        raise bad_request("invalid_parameters", "market_tickers takes 1..100 tickers")
    return {
        "markets": [
            {"market_ticker": ticker, "candlesticks": _candles(call, exchange.market_index(ticker))}
            for ticker in tickers
        ]
    }


def _candles(call: Call, market: int) -> list[dict[str, Any]]:
    exchange = call.state.exchange
    period = period_seconds(int_param(call.params, "period_interval", None, 1, 1440))
    start = ts_param(call.params, "start_ts") or 0
    end = ts_param(call.params, "end_ts")
    window = (start, int(exchange.now) if end is None else end)
    return candlesticks(exchange.world, market, exchange.quote_tick(), window, period)


ROUTES: list[Route] = [
    api_route("/exchange/status", exchange_status),
    api_route("/series", series_list),
    api_route("/series/{series_ticker}", series_one),
    api_route("/series/{series_ticker}/markets/{ticker}/candlesticks", market_candlesticks),
    api_route("/events", events),
    api_route("/events/{event_ticker}", event_one),
    api_route("/markets", markets),
    api_route("/markets/trades", trades),
    api_route("/markets/candlesticks", batch_candlesticks),
    api_route("/markets/{ticker}", market_one),
    api_route("/markets/{ticker}/orderbook", orderbook),
]
