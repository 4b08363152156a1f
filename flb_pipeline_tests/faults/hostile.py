"""A hostile exchange: a loopback proxy in front of a real simulator that corrupts answers.

Everything passes through untouched (market data, portfolio, the `/_sim` control plane)
except what a test aims it at:

- page `page` of the open-market listing (`GET /markets?status=open`) gets the chosen
  `Corruption` (an endless cursor then goes on forever from there). Pages are numbered by the
  cursor that asked for them, so a retried page is corrupted again;
- every answer to the requests a `Tampering` matches (one candidate's order book, a portfolio
  listing, any order POST) is replaced by a corrupt one, retries included.

Either way the fault is the exchange's, not a transient one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flb_pipeline.exchange.schema import API_PREFIX
from flb_pipeline.exchange.simulator import SimulatorServer

LISTING = f"{API_PREFIX}/markets"
PORTFOLIO = f"{API_PREFIX}/portfolio"
GARBAGE = b"\x00\x9f<<not json at all"
ENDLESS = "endless-"
SKIP_NOTICE = "Dependencies for step"  # Dagster's own line for each step it then skips
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
TEN_MB = 10 * 1024 * 1024

Page = dict[str, Any]


def _json(body: Page, status: int = 200) -> Response:
    """Serialised by the standard library, which writes what orjson refuses (NaN, 10**30)."""
    return Response(json.dumps(body).encode(), status, media_type="application/json")


def _one_market(change: Callable[[dict[str, Any]], None]) -> Callable[[Page], Response]:
    """Corrupt the first market of the page, leave the others as they are."""

    def corrupt(page: Page) -> Response:
        change(page["markets"][0])
        return _json(page)

    return corrupt


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """Set fields, dropping their fixed-point twin so the corrupt form is the one parsed."""

    def change(market: dict[str, Any]) -> None:
        for name, value in fields.items():
            market.pop(f"{name}_fp", None)
            market[name] = value

    return change


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda market: market.pop(name)


def _truncated(page: Page) -> Response:
    body = json.dumps(page).encode()
    return Response(body[: len(body) // 2], 200, media_type="application/json")


def _html_502(page: Page) -> Response:
    return Response(HTML_502, 502, media_type="text/html")


def _nan_literal(page: Page) -> Response:
    page["markets"][0]["yes_ask_dollars"] = float("nan")  # a bare NaN: not JSON at all
    return _json(page)


def _ten_megabytes(page: Page) -> Response:
    page["padding"] = "x" * TEN_MB
    return _json(page)


def _endless(page: Page) -> Response:
    page["cursor"] = f"{ENDLESS}1"
    return _json(page)


@dataclass(frozen=True)
class Corruption:
    """What a hostile exchange does to a listing page; `skips_record` when the scan is
    expected to complete without the corrupted market rather than fail."""

    name: str
    corrupt: Callable[[Page], Response]
    skips_record: bool = False


CORRUPTIONS = {
    corruption.name: corruption
    for corruption in (
        Corruption("truncated_json", _truncated),
        Corruption("html_502", _html_502),
        Corruption("nan_literal", _nan_literal),
        Corruption("ten_megabytes", _ten_megabytes),
        Corruption("endless_cursor", _endless),
        Corruption("nan_price", _one_market(_set(yes_ask_dollars="NaN")), True),
        Corruption("price_above_one", _one_market(_set(yes_ask_dollars="1.2500")), True),
        Corruption("negative_price", _one_market(_set(no_bid_dollars="-0.0100")), True),
        Corruption("missing_ticker", _one_market(_drop("ticker")), True),
        Corruption("volume_not_a_number", _one_market(_set(volume="lots")), True),
        Corruption("volume_beyond_bigint", _one_market(_set(volume=10**30)), True),
        Corruption("ask_beyond_decimal", _one_market(_set(yes_ask_dollars="12345678.5")), True),
    )
}


def _is_order_book(method: str, path: str) -> bool:
    return method == "GET" and path.startswith(f"{LISTING}/") and path.endswith("/orderbook")


def _is_order_post(method: str, path: str) -> bool:
    """An order POST: a V2 create, single or batched (not the cycle's order group)."""
    return method == "POST" and path.startswith(f"{PORTFOLIO}/events/orders")


def _portfolio_listing(name: str) -> Callable[[str, str], bool]:
    return lambda method, path: method == "GET" and path == f"{PORTFOLIO}/{name}"


def _truncated_body(body: bytes) -> Response:
    return Response(body[: len(body) // 2], 200, media_type="application/json")


def _book_level_above_one(body: bytes) -> Response:
    """A yes level at $1.50 in the book's fixed-point form (and its legacy cent form, when
    the exchange still sends one)."""
    book = json.loads(body)
    book["orderbook_fp"]["yes_dollars"].append(["1.5000", "10.00"])
    if "orderbook" in book:
        book["orderbook"]["yes"].append([150, 10])
    return _json(book)


def _first_record_without_ticker(field_name: str) -> Callable[[bytes], Response]:
    def corrupt(body: bytes) -> Response:
        listing = json.loads(body)
        record = listing[field_name][0]  # an empty listing has nothing to corrupt: a test bug
        record.pop("ticker", None)
        record.pop("market_ticker", None)
        return _json(listing)

    return corrupt


def _garbage(body: bytes) -> Response:
    return Response(GARBAGE, 200, media_type="application/json")


@dataclass(frozen=True)
class Tampering:
    """What a hostile exchange does to every answer to one kind of request: `route` picks
    the requests by (method, path), `answer` turns the exchange's body into the corrupt
    answer. `first_path_only` narrows the route to the first path it matched (one
    candidate's book, retries included); without `forwards` the request never reaches the
    exchange (`answer` then gets an empty body)."""

    name: str
    route: Callable[[str, str], bool]
    answer: Callable[[bytes], Response]
    first_path_only: bool = False
    forwards: bool = True


TAMPERINGS = {
    tampering.name: tampering
    for tampering in (
        Tampering("order_book_truncated", _is_order_book, _truncated_body, first_path_only=True),
        Tampering(
            "order_book_price_above_one",
            _is_order_book,
            _book_level_above_one,
            first_path_only=True,
        ),
        Tampering("fills_truncated", _portfolio_listing("fills"), _truncated_body),
        Tampering(
            "fill_without_ticker",
            _portfolio_listing("fills"),
            _first_record_without_ticker("fills"),
        ),
        Tampering("positions_truncated", _portfolio_listing("positions"), _truncated_body),
        Tampering(
            "position_without_ticker",
            _portfolio_listing("positions"),
            _first_record_without_ticker("market_positions"),
        ),
        Tampering("order_post_garbage", _is_order_post, _garbage),
        Tampering("order_post_swallowed", _is_order_post, _garbage, forwards=False),
    )
}


class HostileExchange:
    """The proxy, served from a daemon thread on a free loopback port.

    `corruption` (None: pass everything) applies to listing page `page`, whose first market
    (the one a record corruption spoils) is `corrupted_ticker`; `listing_requests` counts
    every listing request the proxy saw, retries included, and `delay_s` slows each listing
    page down (for the wall-clock budget). `tampering` (None: none) corrupts the answers to
    the requests it matches; `tampered` lists the (method, path) of each answer it corrupted.
    """

    def __init__(self, upstream: SimulatorServer) -> None:
        self.upstream = upstream
        self.corruption: Corruption | None = None
        self.page = 1
        self.delay_s = 0.0
        self.listing_requests = 0
        self.corrupted_ticker: str | None = None
        self.tampering: Tampering | None = None
        self.tampered: list[tuple[str, str]] = []
        self._page_of_cursor: dict[str, int] = {}
        self._http: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        assert self._socket is not None, "the hostile exchange is not running"
        host, port = self._socket.getsockname()
        return f"http://{host}:{port}{API_PREFIX}"

    def corrupt(self, name: str, page: int) -> None:
        self.corruption, self.page = CORRUPTIONS[name], page

    def tamper(self, name: str | None) -> None:
        """Aim `TAMPERINGS[name]` at the exchange's answers (None: stop tampering)."""
        self.tampering = TAMPERINGS[name] if name else None
        self.tampered = []

    async def _forward(self, request: Request, body: bytes) -> httpx.Response:
        assert self._http is not None
        headers = {
            key: value
            for key, value in request.headers.items()
            if key not in ("host", "content-length", "accept-encoding")
        }
        return await self._http.request(
            request.method,
            request.url.path,
            params=list(request.query_params.multi_items()),
            content=body,
            headers=headers,
        )

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        is_listing = (
            request.method == "GET"
            and request.url.path == LISTING
            and request.query_params.get("status") == "open"
        )
        if self._tampers(request.method, request.url.path):
            return await self._tampered(request, body)
        if not is_listing:
            return self._passed(await self._forward(request, body))
        return await self._listing(request, body)

    def _tampers(self, method: str, path: str) -> bool:
        tampering = self.tampering
        if tampering is None or not tampering.route(method, path):
            return False
        if tampering.first_path_only and self.tampered:
            return self.tampered[0][1] == path
        return True

    async def _tampered(self, request: Request, body: bytes) -> Response:
        assert self.tampering is not None
        self.tampered.append((request.method, request.url.path))
        upstream = await self._forward(request, body) if self.tampering.forwards else None
        return self.tampering.answer(upstream.content if upstream is not None else b"")

    async def _listing(self, request: Request, body: bytes) -> Response:
        """One listing page; the proxy's state is touched only on its event loop."""
        cursor = request.query_params.get("cursor", "")
        self.listing_requests += 1
        page = self._page_of_cursor.get(cursor, 1)
        await asyncio.sleep(self.delay_s)
        if cursor.startswith(ENDLESS):
            step = int(cursor.removeprefix(ENDLESS))
            return _json({"markets": [], "cursor": f"{ENDLESS}{step + 1}"})
        upstream = await self._forward(request, body)
        if upstream.status_code != 200:
            return self._passed(upstream)
        listing = upstream.json()
        if listing.get("cursor"):
            self._page_of_cursor[listing["cursor"]] = page + 1
        if self.corruption is None or page != self.page:
            return self._passed(upstream)
        self.corrupted_ticker = listing["markets"][0]["ticker"]
        return self.corruption.corrupt(listing)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=self.upstream.root_url, timeout=30) as http:
            self._http = http
            yield

    @staticmethod
    def _passed(upstream: httpx.Response) -> Response:
        media_type = upstream.headers.get("content-type")
        return Response(upstream.content, upstream.status_code, media_type=media_type)

    def start(self) -> HostileExchange:
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=_METHODS)],
            lifespan=self._lifespan,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="hostile", daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the hostile exchange failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> HostileExchange:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def log_lines(
    instance: dg.DagsterInstance, run_id: str, at_least: int = logging.ERROR
) -> list[str]:
    """The run's lines at `at_least` or above written by the code, not Dagster's step events
    or its notices about the steps it skipped because of them."""
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.level >= at_least
        and entry.dagster_event is None
        and not entry.user_message.startswith(SKIP_NOTICE)
    ]
