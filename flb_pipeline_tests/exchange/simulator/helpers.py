"""A thin test client for the simulator: Kalshi routes, control routes and market pickers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BASE_CONFIG = SimConfig(
    seed=11,
    markets_target=80,
    history_events=120,
    clock_mode="manual",
    start_time=START,
    rate_tier="unlimited",
    historical_cutoff_s=86_400.0,
)
"""The session server's world: manual clock, fixed seed and start, ~80 open markets; no
rate limit, since these tests drive it with raw requests at full speed (the rate-limit test
resets to a tier); half of the two days of settled past in the historical tier."""
V2_DEFAULTS = {
    "time_in_force": "immediate_or_cancel",
    "self_trade_prevention_type": "taker_at_cross",
}


class SimClient:
    """httpx against one running simulator, with helpers for the control plane."""

    def __init__(self, server: SimulatorServer, timeout: float = 10.0) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=timeout)

    def __enter__(self) -> SimClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.server.root_url}/_sim{path}"
        response = self.http.get(url) if body is None else self.http.post(url, json=body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def reset(self, **overrides: Any) -> dict[str, Any]:
        return self.control("/reset", overrides)

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.control("/clock", {"advance_seconds": seconds})

    def faults(self, **knobs: Any) -> dict[str, Any]:
        return self.control("/faults", knobs)

    def order(self, **fields: Any) -> httpx.Response:
        """A V2 order: `side` bid/ask on the YES book, `count` and `price` strings."""
        return self.http.post("/portfolio/events/orders", json=V2_DEFAULTS | fields)

    def placed(self, **fields: Any) -> dict[str, Any]:
        """A V2 order that must be accepted, as the exchange now holds it."""
        response = self.order(**fields)
        assert response.status_code == 201, response.text
        return self.get(f"/portfolio/orders/{response.json()['order_id']}")["order"]

    def buy(self, market: dict[str, Any], side: str, count: int, price: str, **fields: Any) -> dict:
        """Buy `count` `side` contracts at `price` (of that side) as a V2 order."""
        yes_price = Decimal(price) if side == "yes" else 1 - Decimal(price)
        return self.placed(
            ticker=market["ticker"],
            side="bid" if side == "yes" else "ask",
            count=str(count),
            price=f"{yes_price:.4f}",
            **fields,
        )

    def categories(self, markets: list[dict[str, Any]]) -> set[str]:
        """The categories of `markets` (Kalshi's markets name their series, not a category)."""
        by_series = {s["ticker"]: s["category"] for s in self.get("/series")["series"]}
        return {by_series[m["event_ticker"].split("-")[0]] for m in markets}

    def settled_markets(self) -> list[dict[str, Any]]:
        """Every settled market: the live tier's and the historical tier's."""
        return self.all_markets(status="settled") + self.all_markets("/historical/markets")

    def all_markets(self, path: str = "/markets", **params: Any) -> list[dict[str, Any]]:
        markets, cursor = [], ""
        while True:
            page = self.get(path, limit=1000, cursor=cursor, **params)
            markets += page["markets"]
            cursor = page["cursor"]
            if not cursor:
                return markets

    def market(self, ticker: str) -> dict[str, Any]:
        return self.get(f"/markets/{ticker}")["market"]

    def book(self, ticker: str) -> dict[str, Any]:
        """`orderbook_fp`: `yes_dollars` and `no_dollars` bid levels, ascending."""
        return self.get(f"/markets/{ticker}/orderbook")["orderbook_fp"]

    def balance(self) -> Decimal:
        return Decimal(self.get("/portfolio/balance")["balance_dollars"])

    def two_sided(
        self,
        low: str = "0.10",
        high: str = "0.90",
        *,
        min_life_s: float = 0.0,
        structure: str | None = None,
    ) -> dict:
        """An open market quoted on both sides, bid >= low and ask <= high (dollars), on
        `structure`'s price grid if given."""
        now = self.control("/clock")["now_ts"]
        for market in self.all_markets(status="open"):
            bid, ask = Decimal(market["yes_bid_dollars"]), Decimal(market["yes_ask_dollars"])
            quoted = Decimal(low) <= bid and ask <= Decimal(high)
            grid = structure is None or market["price_level_structure"] == structure
            if quoted and grid and epoch(market["close_time"]) - now >= min_life_s:
                return market
        raise AssertionError("no two-sided market in the test world")


def epoch(text: str) -> float:
    """ISO-8601 UTC with a trailing Z, as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
