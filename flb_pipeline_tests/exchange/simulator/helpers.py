"""A thin test client for the simulator: Kalshi routes, control routes and market pickers."""

from __future__ import annotations

from datetime import UTC, datetime
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
)
"""The session server's world: manual clock, fixed seed and start, ~80 open markets."""


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
        body = {"type": "limit", "action": "buy", "time_in_force": "immediate_or_cancel"}
        return self.http.post("/portfolio/orders", json=body | fields)

    def placed(self, **fields: Any) -> dict[str, Any]:
        response = self.order(**fields)
        assert response.status_code == 201, response.text
        return response.json()["order"]

    def all_markets(self, **params: Any) -> list[dict[str, Any]]:
        markets, cursor = [], ""
        while True:
            page = self.get("/markets", limit=1000, cursor=cursor, **params)
            markets += page["markets"]
            cursor = page["cursor"]
            if not cursor:
                return markets

    def market(self, ticker: str) -> dict[str, Any]:
        return self.get(f"/markets/{ticker}")["market"]

    def book(self, ticker: str) -> dict[str, Any]:
        return self.get(f"/markets/{ticker}/orderbook")["orderbook"]

    def balance(self) -> int:
        return self.get("/portfolio/balance")["balance"]

    def two_sided(self, low: int = 10, high: int = 90, *, min_life_s: float = 0.0) -> dict:
        """An open market quoted on both sides, bid >= low and ask <= high."""
        now = self.control("/clock")["now_ts"]
        for market in self.all_markets(status="open"):
            quoted = low <= market["yes_bid"] and market["yes_ask"] <= high
            if quoted and epoch(market["close_time"]) - now >= min_life_s:
                return market
        raise AssertionError("no two-sided market in the test world")


def epoch(text: str) -> float:
    """ISO-8601 UTC with a trailing Z, as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
