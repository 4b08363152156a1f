"""Market-data JSON exactly as Kalshi's Trade API v2 shapes it (series, events, markets, books).

By default only the fixed-point forms go out, as Kalshi has served them since 2026-03-12:
prices as four-decimal dollar strings (`*_dollars`), counts as two-decimal strings (`*_fp`).
A legacy simulator adds the integer-cent and integer-count fields old clients read. Static
parts of a market (titles, times, strikes, price grid) are built once per event; dynamic
parts come from one vectorised `World.market_data` call per page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flb_pipeline.exchange.simulator.book import Book, top_sizes
from flb_pipeline.exchange.simulator.catalog import (
    FEE_MULTIPLIER,
    FamilySpec,
    MarketSet,
    SeriesSpec,
)
from flb_pipeline.exchange.simulator.exchange import Exchange
from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID, price_ranges_json
from flb_pipeline.exchange.simulator.units import (
    ONE_DOLLAR_MILLS,
    PRICE_TEXT,
    count_text,
    iso,
    legacy_cents,
)
from flb_pipeline.exchange.simulator.world import SETTLED, STATUS_NAMES, Event, MarketRow

_COLLATERAL_RETURN = {True: "MECNET", False: "DIRECNET"}
_SETTLEMENT_SOURCES = {
    "weather": {"name": "National Weather Service", "url": "https://www.weather.gov/"},
    "index": {"name": "S&P Dow Jones Indices", "url": "https://www.spglobal.com/spdji/"},
    "economics": {"name": "Bureau of Labor Statistics", "url": "https://www.bls.gov/"},
    "sports": {"name": "League official results", "url": "https://www.espn.com/"},
}
_LEGACY_PRICE_FIELDS = (
    "yes_bid",
    "yes_ask",
    "no_bid",
    "no_ask",
    "last_price",
    "previous_yes_bid",
    "previous_yes_ask",
    "previous_price",
)


def series_json(family: FamilySpec, series: SeriesSpec) -> dict[str, Any]:
    return {
        "ticker": series.ticker,
        "frequency": "daily",
        "title": _series_title(family, series),
        "category": family.category,
        "categories": [family.category],
        "tags": list(series.tags),
        "settlement_sources": [_SETTLEMENT_SOURCES[family.name]],
        "contract_url": f"https://kalshi.com/series/{series.ticker.lower()}",
        "contract_terms_url": f"https://kalshi.com/series/{series.ticker.lower()}/terms",
        "fee_type": family.fee_type,
        "fee_multiplier": int(FEE_MULTIPLIER),
        "additional_prohibitions": [],
    }


def _series_title(family: FamilySpec, series: SeriesSpec) -> str:
    if family.name == "weather":
        return f"Highest temperature in {series.subject}"
    if family.name == "sports":
        return f"{series.subject} game winner"
    return series.subject


def event_titles(event: Event, close: datetime) -> tuple[str, str]:
    """(title, sub_title) of an event, Kalshi-like wording per family."""
    subject = event.series.subject
    day = f"{close:%b} {close.day}, {close.year}"
    if event.family.name == "weather":
        return f"Highest temperature in {subject} on {day}?", f"On {day}"
    if event.family.name == "sports":
        home, away = event.teams
        return f"{away} at {home} winner?", f"{away} at {home} ({day})"
    if event.family.name == "index":
        return f"{subject} range at {close:%H:%M} UTC on {day}?", f"At {close:%H:%M} UTC, {day}"
    return f"{subject} on {day}?", f"Release of {day}"


class MarketWire:
    """Builds market and event JSON for one exchange, caching per-event static fields."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._legacy = exchange.config.legacy
        self._event_static: dict[int, dict[str, Any]] = {}

    def event_json(self, event: Event, *, nested_markets: bool) -> dict[str, Any]:
        close = datetime.fromtimestamp(self._exchange.world.tick_ts(event.close_tick), UTC)
        title, sub_title = event_titles(event, close)
        body: dict[str, Any] = {
            "event_ticker": event.ticker,
            "series_ticker": event.series.ticker,
            "sub_title": sub_title,
            "title": title,
            "collateral_return_type": _COLLATERAL_RETURN[event.family.mutually_exclusive],
            "mutually_exclusive": event.family.mutually_exclusive,
            "category": event.family.category,
            "strike_date": iso(close.timestamp()),
            "settlement_sources": [_SETTLEMENT_SOURCES[event.family.name]],
            "product_metadata": {},
        }
        if nested_markets:
            body["markets"] = self.markets_json(np.array(event.markets))
        return body

    def markets_json(self, markets: NDArray) -> list[dict[str, Any]]:
        """Full Market objects for `markets`, quotes as displayed right now."""
        exchange = self._exchange
        if len(markets) == 0:
            return []
        tick = exchange.quote_tick()
        data = exchange.world.market_data(markets, tick, exchange.now)
        config = exchange.config
        bid_sizes, ask_sizes = top_sizes(
            config.seed, markets, tick, config.book_levels, config.level_size_min,
            config.level_size_max,
        )  # fmt: skip
        tops = exchange.consumed_tops()
        missing = exchange.faults.missing_field
        crossed_rate = exchange.faults.crossed_book_rate
        built = []
        for row, bid_size, ask_size in zip(
            data.rows(markets), bid_sizes.tolist(), ask_sizes.tolist(), strict=True
        ):
            body = self._static(row.market)
            yes_bid, yes_ask = tops.get(row.market, (row.yes_bid, row.yes_ask))
            if crossed_rate and _hashed_fraction(row.market) < crossed_rate and yes_ask < NO_ASK:
                yes_bid = min(yes_ask + 10, ONE_DOLLAR_MILLS - 1)
            body.update(self._quote_fields(yes_bid, yes_ask, bid_size, ask_size))
            body.update(self._trading_fields(row))
            if row.status >= SETTLED:
                body.update(self._settled_fields(row.market))
            if missing:
                body.pop(missing, None)
            built.append(body)
        return built

    def _static(self, market: int) -> dict[str, Any]:
        """A fresh copy of the fields that never change for this market."""
        world = self._exchange.world
        event = world.event_of(market)
        shared = self._event_static.get(event.index)
        if shared is None:
            shared = self._event_static[event.index] = self._event_fields(event)
        market_set = event.sets[market - event.first_market]
        body = {"ticker": world.market_tickers[market], **shared}
        body.update(
            yes_sub_title=market_set.yes_sub_title,
            no_sub_title=market_set.yes_sub_title,
            rules_primary=(
                f'If the outcome of "{shared["title"]}" is {market_set.yes_sub_title}, '
                "then the market resolves to Yes."
            ),
        )
        body.update(_strike_fields(market_set))
        return body

    def _event_fields(self, event: Event) -> dict[str, Any]:
        exchange = self._exchange
        world = exchange.world
        close_ts = world.tick_ts(event.close_tick)
        settle_ts = world.settle_ts(event.close_tick)
        title, _ = event_titles(event, datetime.fromtimestamp(close_ts, UTC))
        listed = iso(world.tick_ts(event.open_tick - world.lead_ticks))
        fields: dict[str, Any] = {
            "event_ticker": event.ticker,
            "market_type": "binary",
            "title": title,
            "subtitle": "",
            "created_time": listed,
            "updated_time": listed,
            "open_time": iso(world.tick_ts(event.open_tick)),
            "close_time": iso(close_ts),
            "expected_expiration_time": iso(settle_ts),
            "expiration_time": iso(settle_ts),
            "latest_expiration_time": iso(settle_ts),
            "settlement_timer_seconds": round(world.config.settle_delay_s),
            "result": "",
            "can_close_early": False,
            "notional_value_dollars": "1.0000",
            "expiration_value": "",
            "settlement_bounds_type": "default",
            "rules_secondary": "Simulated market: settles on the simulator's latent outcome.",
            "price_level_structure": event.series.price_structure,
            "price_ranges": price_ranges_json(event.series.price_structure),
            "fractional_trading_enabled": event.series.fractional,
        }
        waiver = exchange.fee_waiver_expires_ts(event.first_market)
        if waiver is not None:
            fields["fee_waiver_expiration_time"] = iso(waiver)
        if self._legacy:
            fields.update(
                category=event.family.category,
                response_price_units="usd_cent",
                notional_value=100,
                tick_size=1,
                risk_limit_cents=0,
            )
        return fields

    def _quote_fields(
        self, yes_bid: int, yes_ask: int, bid_size: int, ask_size: int
    ) -> dict[str, Any]:
        """Both sides of the top of book; an empty side shows bid 0 / ask $1, size 0."""
        no_bid = ONE_DOLLAR_MILLS - yes_ask if yes_ask < NO_ASK else NO_BID
        no_ask = ONE_DOLLAR_MILLS - yes_bid if yes_bid > NO_BID else NO_ASK
        fields = {
            "yes_bid_dollars": PRICE_TEXT[yes_bid],
            "yes_bid_size_fp": count_text(bid_size if yes_bid > NO_BID else 0),
            "yes_ask_dollars": PRICE_TEXT[yes_ask],
            "yes_ask_size_fp": count_text(ask_size if yes_ask < NO_ASK else 0),
            "no_bid_dollars": PRICE_TEXT[no_bid],
            "no_ask_dollars": PRICE_TEXT[no_ask],
        }
        if self._legacy:
            fields.update(
                yes_bid=legacy_cents(yes_bid),
                yes_ask=legacy_cents(yes_ask),
                no_bid=legacy_cents(no_bid),
                no_ask=legacy_cents(no_ask),
            )
        return fields

    def _trading_fields(self, row: MarketRow) -> dict[str, Any]:
        """Status, last trade, volume and day-ago fields of one market row."""
        open_interest = row.volume * 3 // 5
        fields: dict[str, Any] = {
            "status": STATUS_NAMES[row.status],
            "last_price_dollars": PRICE_TEXT[row.last_price],
            "volume_fp": count_text(row.volume),
            "volume_24h_fp": count_text(row.volume_24h),
            "open_interest_fp": count_text(open_interest),
            "previous_yes_bid_dollars": PRICE_TEXT[row.previous_yes_bid],
            "previous_yes_ask_dollars": PRICE_TEXT[row.previous_yes_ask],
            "previous_price_dollars": PRICE_TEXT[row.previous_price],
        }
        if self._legacy:
            fields.update(
                last_price=legacy_cents(row.last_price),
                previous_yes_bid=legacy_cents(row.previous_yes_bid),
                previous_yes_ask=legacy_cents(row.previous_yes_ask),
                previous_price=legacy_cents(row.previous_price),
                volume=row.volume,
                volume_24h=row.volume_24h,
                open_interest=open_interest,
                liquidity=0,
                liquidity_dollars="0.0000",
            )
        return fields

    def _settled_fields(self, market: int) -> dict[str, Any]:
        exchange = self._exchange
        world = exchange.world
        yes_won = exchange.result(market)
        value = ONE_DOLLAR_MILLS if yes_won else 0
        event = world.event_of(market)
        settle_ts = world.settle_ts(event.close_tick)
        fields = {
            "result": "yes" if yes_won else "no",
            "settlement_value_dollars": PRICE_TEXT[value],
            "settlement_ts": iso(settle_ts),
            "updated_time": iso(settle_ts),
            "expiration_value": f"{world.latent_at_close(event):.2f}",
        }
        if self._legacy:
            fields["settlement_value"] = legacy_cents(value)
        return fields


def _hashed_fraction(market: int) -> float:
    """A fixed pseudo-random fraction per market (Knuth's multiplicative hash), so a crossed
    book fault hits the same markets on every listing."""
    return (market * 2654435761 % 2**32) / 2**32


def _strike_fields(market_set: MarketSet) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if market_set.strike_type is not None:
        fields["strike_type"] = market_set.strike_type
    if market_set.floor_strike is not None:
        fields["floor_strike"] = _number(market_set.floor_strike)
    if market_set.cap_strike is not None:
        fields["cap_strike"] = _number(market_set.cap_strike)
    return fields


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def orderbook_json(book: Book, depth: int | None, *, legacy: bool) -> dict[str, Any]:
    """Bids only, ascending by price, as `orderbook_fp` (and the legacy cent form)."""
    sides = {
        side: list(book.bids(side))[:depth] if depth else list(book.bids(side))
        for side in ("yes", "no")
    }
    ascending = {side: sorted(levels) for side, levels in sides.items()}
    fixed_point = {
        f"{side}_dollars": [[PRICE_TEXT[price], count_text(count)] for price, count in levels]
        for side, levels in ascending.items()
    }
    body: dict[str, Any] = {"orderbook_fp": fixed_point}
    if legacy:
        body["orderbook"] = {
            side: [[legacy_cents(price), int(count)] for price, count in levels]
            for side, levels in ascending.items()
        }
    return body
