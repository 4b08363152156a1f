"""httpx client for the Kalshi Trade API v2 (DESIGN §4), as Kalshi serves it in late 2026.

Signing, cursor pagination (bounded by a `PageGuard` for scans), a token bucket per read/write
budget sized from `GET /account/limits`, retries with exponential backoff and jitter (429
carries no Retry-After), timeouts, a cap on the size of any response body, and a record of
every HTTP attempt (`ApiCall`, marked `final` when it ended its call) that the Dagster layer
flushes into `api_calls`. Orders go through the V2 endpoints (a bid or an ask on the YES
book); creation is retried only with the same `client_order_id`, and an order whose POST got
no answer is resolved by that id before the caller hears anything but a definite outcome.
Settled markets older than the exchange's historical cutoff come from the historical tier.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from flb_pipeline.core.fees import FeeChange
from flb_pipeline.core.records import (
    AccountLimits,
    ApiCall,
    Balance,
    EventInfo,
    ExchangeOrder,
    ExchangeState,
    Fill,
    MaintenanceWindow,
    MarketPosition,
    MarketQuote,
    OrderBook,
    PricePoint,
    SeriesInfo,
    SettledMarket,
    Settlement,
)
from flb_pipeline.core.scan_bounds import ScanBounds
from flb_pipeline.exchange import schema, schema_exchange, signing
from flb_pipeline.exchange.errors import (
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnreachable,
    MalformedResponse,
    ScanBoundExceeded,
    SchemaError,
)
from flb_pipeline.exchange.order_entry import ORDER_BATCH, OrderEntry, OrderNotPlaced
from flb_pipeline.exchange.ratelimit import TokenBucket
from flb_pipeline.exchange.responses import classify, list_field

log = logging.getLogger(__name__)

PROD_URL = "https://api.elections.kalshi.com/trade-api/v2"
DEMO_URL = "https://demo-api.kalshi.co/trade-api/v2"
CANDLESTICK_BATCH = 100
PARALLEL_READS = 4
SIGNED_PREFIXES = ("/portfolio", "/account")
__all__ = ["ORDER_BATCH", "KalshiClient", "OrderNotPlaced"]
T = TypeVar("T")


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    reads_per_s: float = 20.0
    writes_per_s: float = 10.0
    max_attempts: int = 4
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    markets_page_limit: int = 1000
    max_response_bytes: int = 8 * 1024 * 1024  # a 1,000-market page is ~1.5 MB


@dataclass(frozen=True)
class Credentials:
    """API key id and RSA private key. The repr never shows either."""

    key_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"


@dataclass(frozen=True)
class MarketPage:
    """One page of a `/markets` listing: parsed quotes, records that failed to parse."""

    quotes: list[MarketQuote]
    invalid: list[SchemaError]
    received_at: datetime


@dataclass(frozen=True)
class SettledPage:
    markets: list[SettledMarket]
    invalid: list[SchemaError]


class PageGuard:
    """Counts the listing pages one scan requests and refuses the next one past its bounds.

    One guard spans every listing of a scan, so the page cap and the wall-clock budget hold
    for the scan as a whole, whatever the number of series it pages through.
    """

    def __init__(
        self,
        bounds: ScanBounds,
        *,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> None:
        """`started` (a reading of `clock`) lets the budget cover what the scan did before
        its first page, such as the series listing."""
        self.bounds = bounds
        self.pages_requested = 0
        self._clock = clock
        self._started = clock() if started is None else started

    def admit(self, path: str) -> ScanBoundExceeded | None:
        """Count one more page request, or return the refusal naming the bound it would pass."""
        reason = self.bounds.exceeded(self.pages_requested, self._clock() - self._started)
        if reason is not None:
            return ScanBoundExceeded(f"GET {path}: {reason}")
        self.pages_requested += 1
        return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once per process: building it loads the CA
    bundle (~25 ms), which would otherwise be paid by every client of every trading step."""
    return httpx.create_ssl_context()


class KalshiClient(OrderEntry):
    """One client per unit of work; call `close()` (or use it as a context manager)."""

    def __init__(
        self,
        settings: ClientSettings,
        credentials: Credentials | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._api_prefix = urlsplit(settings.base_url).path.rstrip("/")
        self._reads = TokenBucket(settings.reads_per_s, sleep=sleep)
        self._writes = TokenBucket(settings.writes_per_s, sleep=sleep)
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
            headers={"Accept": "application/json"},
            verify=tls_context(),
        )
        self.calls: list[ApiCall] = []

    def __enter__(self) -> KalshiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def drain_calls(self) -> list[ApiCall]:
        """Hand over the recorded attempts (for `api_calls`) and start a fresh record."""
        calls, self.calls = self.calls, []
        return calls

    # -- market data ---------------------------------------------------------------------

    def exchange_state(self) -> ExchangeState:
        return schema_exchange.exchange_state(self._get("/exchange/status"))

    def maintenance_windows(self) -> list[MaintenanceWindow]:
        return schema_exchange.maintenance_windows(self._get("/exchange/schedule"))

    def account_limits(self) -> AccountLimits:
        return schema_exchange.account_limits(self._get("/account/limits"))

    def size_rate_limits(self, limits: AccountLimits) -> None:
        """Pace reads and writes at the account's tier: Kalshi's buckets count tokens, ours
        count requests of `limits.default_cost` tokens each."""
        cost = limits.default_cost
        self._reads = TokenBucket(
            limits.read.refill_per_s / cost, limits.read.capacity / cost, sleep=self._sleep
        )
        self._writes = TokenBucket(
            limits.write.refill_per_s / cost, limits.write.capacity / cost, sleep=self._sleep
        )

    def fee_changes(self) -> list[FeeChange]:
        return schema_exchange.fee_changes(self._get("/series/fee_changes"))

    def historical_cutoff(self) -> datetime:
        return schema_exchange.historical_cutoff(self._get("/historical/cutoff"))

    def series(self, category: str | None = None) -> list[SeriesInfo]:
        body = self._get("/series", params=_clean({"category": category}))
        parsed, invalid = schema.each(body.get("series"), schema.series_info, "series")
        self._record_invalid("/series", invalid)
        return parsed

    def event(self, event_ticker: str) -> EventInfo:
        body = self._get("/events/{event_ticker}", event_ticker=event_ticker)
        return schema.event_info(schema.required(body, "event"))

    def market_pages(
        self,
        *,
        status: str = "open",
        series_ticker: str | None = None,
        guard: PageGuard | None = None,
    ) -> Iterator[MarketPage]:
        """Every page of `/markets` (multivariate combos excluded), one page at a time; with a
        `guard`, no page is requested past the scan's bounds."""
        params = _clean(
            {
                "status": status,
                "series_ticker": series_ticker,
                "mve_filter": "exclude",
                "limit": self.settings.markets_page_limit,
            }
        )
        for body, received_at in self._timed_pages("/markets", params, guard):
            quotes, invalid = schema.each(
                body.get("markets"),
                lambda obj, at=received_at: schema.market_quote(obj, at),
                "markets",
            )
            self._record_invalid("/markets", invalid)
            yield MarketPage(quotes, invalid, received_at)

    def settled_pages(self, *, min_settled_ts: int | None = None) -> Iterator[SettledPage]:
        """Settled markets of the live tier (those settled since the historical cutoff)."""
        params = _clean(
            {
                "status": "settled",
                "min_settled_ts": min_settled_ts,
                "mve_filter": "exclude",
                "limit": self.settings.markets_page_limit,
            }
        )
        yield from self._settled("/markets", params)

    def historical_settled_pages(self) -> Iterator[SettledPage]:
        """Settled markets of the historical tier (settled before the cutoff). The tier has
        no time filter, so callers keep the ones they need."""
        params = {"mve_filter": "exclude", "limit": self.settings.markets_page_limit}
        yield from self._settled("/historical/markets", params)

    def _settled(self, path: str, params: dict[str, Any]) -> Iterator[SettledPage]:
        for body in self._pages(path, params):
            markets, invalid = schema.each(body.get("markets"), schema.settled_market, "markets")
            self._record_invalid(path, invalid)
            yield SettledPage(markets, invalid)

    def market_statuses(self, tickers: list[str]) -> dict[str, tuple[str, str, datetime]]:
        """ticker -> (status, result, close_time) for specific markets, 100 per call."""
        statuses: dict[str, tuple[str, str, datetime]] = {}
        for first in range(0, len(tickers), CANDLESTICK_BATCH):
            batch = ",".join(tickers[first : first + CANDLESTICK_BATCH])
            for body in self._pages("/markets", {"tickers": batch, "limit": 1000}):
                parsed, invalid = schema.each(body.get("markets"), schema.market_status, "markets")
                self._raise_invalid("/markets", invalid)
                for ticker, status, result, close_time in parsed:
                    statuses[ticker] = (status, result, close_time)
        return statuses

    def candlesticks(
        self, tickers: list[str], start_ts: int, end_ts: int, period_minutes: int = 1
    ) -> dict[str, list[PricePoint]]:
        """Candles for many markets through the batch endpoint, 100 tickers per call."""
        points: dict[str, list[PricePoint]] = {}
        for first in range(0, len(tickers), CANDLESTICK_BATCH):
            batch = tickers[first : first + CANDLESTICK_BATCH]
            body = self._get(
                "/markets/candlesticks",
                params={
                    "market_tickers": ",".join(batch),
                    "start_ts": start_ts,
                    "end_ts": end_ts,
                    "period_interval": period_minutes,
                },
            )
            for market in list_field(body, "markets"):
                ticker = str(schema.required(market, "market_ticker"))
                points[ticker] = schema.price_points(ticker, list_field(market, "candlesticks"))
        return points

    def historical_candlesticks(
        self, ticker: str, start_ts: int, end_ts: int, period_minutes: int = 1
    ) -> list[PricePoint]:
        """Candles of one market of the historical tier (it has no batch endpoint)."""
        body = self._get(
            "/historical/markets/{ticker}/candlesticks",
            ticker=ticker,
            params={"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_minutes},
        )
        return schema.price_points(ticker, list_field(body, "candlesticks"), historical=True)

    def order_book(self, ticker: str, depth: int | None = None) -> OrderBook:
        body = self._get(
            "/markets/{ticker}/orderbook", ticker=ticker, params=_clean({"depth": depth})
        )
        return schema.order_book(ticker, body)

    def order_books(self, tickers: Sequence[str], depth: int | None = None) -> list[OrderBook]:
        """Several books, fetched side by side, in the order asked."""
        return self._side_by_side(lambda ticker: self.order_book(ticker, depth), tickers)

    def events_of(self, event_tickers: Sequence[str]) -> list[EventInfo]:
        """Several events, fetched side by side, in the order asked."""
        return self._side_by_side(self.event, event_tickers)

    def _side_by_side(self, fetch: Callable[[str], T], keys: Sequence[str]) -> list[T]:
        """Independent GETs in flight together (the token bucket still paces them): a
        trading cycle's handful of book and event reads sits on its critical path."""
        if len(keys) < 2:
            return [fetch(key) for key in keys]
        workers = min(len(keys), PARALLEL_READS)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kalshi-reads") as pool:
            return list(pool.map(fetch, keys))

    # -- portfolio -----------------------------------------------------------------------

    def balance(self) -> Balance:
        return schema.balance(self._get("/portfolio/balance"))

    def positions(self) -> list[MarketPosition]:
        return self._collect("/portfolio/positions", "market_positions", schema.market_position, {})

    def fills(self, *, min_ts: int | None = None, ticker: str | None = None) -> list[Fill]:
        params = {"min_ts": min_ts, "ticker": ticker}
        return self._collect("/portfolio/fills", "fills", schema.fill, params)

    def settlements(self, *, min_ts: int | None = None) -> list[Settlement]:
        params = {"min_ts": min_ts}
        return self._collect("/portfolio/settlements", "settlements", schema.settlement, params)

    def orders(self, *, ticker: str | None = None) -> list[ExchangeOrder]:
        params = {"ticker": ticker}
        return self._collect("/portfolio/orders", "orders", schema.exchange_order, params)

    # -- plumbing ------------------------------------------------------------------------

    def _collect(
        self, path: str, field_name: str, parse: Callable[[Any], T], params: dict[str, Any]
    ) -> list[T]:
        """Every page of a portfolio listing. Our own money's records must all parse: one
        that does not stops the caller rather than leaving a hole in the ledger."""
        items: list[T] = []
        for body in self._pages(path, _clean({**params, "limit": 1000})):
            parsed, invalid = schema.each(body.get(field_name), parse, field_name)
            self._raise_invalid(path, invalid)
            items.extend(parsed)
        return items

    def _pages(
        self, path: str, params: dict[str, Any], guard: PageGuard | None = None
    ) -> Iterator[dict[str, Any]]:
        for body, _ in self._timed_pages(path, params, guard):
            yield body

    def _timed_pages(
        self, path: str, params: dict[str, Any], guard: PageGuard | None = None
    ) -> Iterator[tuple[dict[str, Any], datetime]]:
        """Follow Kalshi's cursor until it comes back empty, a cursor repeats, or `guard`
        refuses the next page; each page comes with the moment its answer was in hand (a
        listing's quotes are as old as the page that carried them).

        The next page is requested as soon as this page's cursor is known, so its network
        time overlaps the caller's parsing and storing of this page (a 5,000-market scan is
        five sequential round trips otherwise). Errors still surface in page order, after
        the pages that came before them.
        """
        seen: set[str] = set()
        refusal = guard.admit(path) if guard else None
        if refusal is not None:
            raise refusal
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kalshi-pages") as prefetch:
            pending = prefetch.submit(self._received, path, params)
            while True:
                body, received_at = pending.result()
                cursor = str(body.get("cursor") or "")
                if cursor in seen:
                    refusal = MalformedResponse(f"{path}: the exchange repeated cursor {cursor!r}")
                elif cursor:
                    refusal = guard.admit(path) if guard else None
                    if refusal is None:
                        seen.add(cursor)
                        pending = prefetch.submit(
                            self._received, path, {**params, "cursor": cursor}
                        )
                yield body, received_at
                if refusal is not None:
                    raise refusal
                if not cursor:
                    return

    def _received(self, path: str, params: dict[str, Any]) -> tuple[dict[str, Any], datetime]:
        body = self._get(path, params=params)
        return body, self._now()

    def _get(
        self, path: str, *, params: dict[str, Any] | None = None, **path_params: str
    ) -> dict[str, Any]:
        return self._request("GET", path, params=params, **path_params)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        cost: float = 1.0,
        **path_params: str,
    ) -> dict[str, Any]:
        """One logical call: attempts, backoff, classification, one `ApiCall` per attempt.
        `cost` is how many ordinary requests it counts as (a batch of n orders: n)."""
        url_path = path.format(**{k: quote(v, safe="") for k, v in path_params.items()})
        bucket = self._reads if method == "GET" else self._writes
        for attempt in range(1, self.settings.max_attempts + 1):
            bucket.acquire(cost)
            try:
                return self._attempt(method, path, url_path, params, json_body, attempt)
            except ExchangeError as error:
                if self._gives_up(error, attempt):
                    log.warning(
                        "%s %s failed after %d attempt(s): %s: %s",
                        method, path, attempt, error.error_class, error,
                    )  # fmt: skip
                    raise
                self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable: the loop returns or raises")

    def _gives_up(self, error: ExchangeError, attempt: int) -> bool:
        """Whether this failed attempt ends its call: its failure reaches the caller."""
        return not error.retryable or attempt >= self.settings.max_attempts

    def _attempt(
        self,
        method: str,
        path: str,
        url_path: str,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
        attempt: int,
    ) -> dict[str, Any]:
        called_at = self._now()
        started = time.perf_counter()
        status: int | None = None
        try:
            with self._http.stream(
                method,
                url_path,
                params=params,
                json=json_body,
                headers=self._auth(method, url_path),
            ) as response:
                status = response.status_code
                body = classify(
                    response,
                    max_bytes=self.settings.max_response_bytes,
                    timeout_s=self.settings.timeout_s,
                    started=started,
                )
        except httpx.TimeoutException as timeout:
            error: ExchangeError = ExchangeTimeout(f"no answer within the timeout ({timeout})")
        except httpx.DecodingError as undecodable:
            error = MalformedResponse(f"HTTP {status} body cannot be decoded: {undecodable}")
        except httpx.TransportError as transport:
            error = ExchangeUnreachable(f"cannot reach {self.settings.base_url}: {transport}")
        except ExchangeError as classified:
            error = classified
        else:
            self._record(called_at, method, path, status, started, None, attempt, final=True)
            return body
        final = self._gives_up(error, attempt)
        self._record(called_at, method, path, status, started, error.error_class, attempt, final)
        raise error

    def _auth(self, method: str, url_path: str) -> dict[str, str]:
        if self._credentials is None or not url_path.startswith(SIGNED_PREFIXES):
            return {}
        return signing.auth_headers(
            self._credentials.key_id,
            self._credentials.private_key,
            int(time.time() * 1000),
            method,
            self._api_prefix + url_path,
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(
            self.settings.backoff_cap_s, self.settings.backoff_base_s * 2 ** (attempt - 1)
        )
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _record(
        self,
        called_at: datetime,
        method: str,
        path: str,
        status: int | None,
        started: float,
        error_class: str | None,
        attempt: int,
        final: bool,
    ) -> None:
        latency_ms = (time.perf_counter() - started) * 1000
        self.calls.append(
            ApiCall(called_at, method, path, status, latency_ms, error_class, attempt, final)
        )

    def _record_invalid(self, path: str, invalid: list[SchemaError]) -> None:
        """Each record we had to skip counts as a failed call (error_burst sees it): no
        retry will bring it back."""
        if not invalid:
            return
        log.warning("GET %s: skipped %d record(s), first: %s", path, len(invalid), invalid[0])
        now = self._now()
        self.calls.extend(
            ApiCall(now, "GET", path, 200, 0.0, e.error_class, final=True) for e in invalid
        )

    def _raise_invalid(self, path: str, invalid: list[SchemaError]) -> None:
        """Portfolio records are never skipped: a ledger with holes is worse than none."""
        if invalid:
            self._record_invalid(path, invalid)
            raise invalid[0]


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}
