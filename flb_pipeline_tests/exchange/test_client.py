"""Client unit tests: each failure class at the transport edge (httpx.MockTransport).

The end-to-end path against the simulator over real HTTP is covered in the integration
tests; here the transport is the unit's edge, so every failure can be produced exactly.
"""

import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from flb_pipeline.core.records import ExchangeState, OrderIntent
from flb_pipeline.core.scan_bounds import ScanBounds
from flb_pipeline.exchange import signing
from flb_pipeline.exchange.client import (
    ClientSettings,
    Credentials,
    KalshiClient,
    OrderNotPlaced,
    PageGuard,
)
from flb_pipeline.exchange.errors import (
    AuthRejected,
    ExchangeTimeout,
    ExchangeUnreachable,
    MalformedResponse,
    OrderOutcomeUnknown,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    ScanBoundExceeded,
    SchemaError,
    ServerError,
)
from flb_pipeline_tests.exchange.test_schema import market_json

BASE = "http://exchange.test/trade-api/v2"
TRADING = {"exchange_active": True, "trading_active": True}
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, credentials: Credentials | None = None, **settings
) -> KalshiClient:
    sleeps: list[float] = []
    client = KalshiClient(
        ClientSettings(base_url=BASE, **settings),
        credentials,
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
    )
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, Exception):
            raise step
        return step

    return handler, seen


def ok(body: dict) -> httpx.Response:
    return httpx.Response(200, json=body)


def test_pagination_follows_cursor_until_empty():
    pages = {
        "": {"markets": [market_json(ticker="A")], "cursor": "c1"},
        "c1": {"markets": [market_json(ticker="B")], "cursor": "c2"},
        "c2": {"markets": [market_json(ticker="C")], "cursor": ""},
    }
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return ok(pages[request.url.params.get("cursor", "")])

    client = make_client(handler)
    tickers = [q.ticker for page in client.market_pages() for q in page.quotes]
    assert tickers == ["A", "B", "C"]
    assert seen[0] == {"status": "open", "mve_filter": "exclude", "limit": "1000"}
    assert [p.get("cursor") for p in seen] == [None, "c1", "c2"]
    assert [c.status for c in client.calls] == [200, 200, 200]
    assert all(c.path == "/markets" for c in client.calls)


def test_repeated_cursor_is_malformed_not_an_endless_loop():
    handler, _ = scripted(ok({"markets": [], "cursor": "same"}))
    with pytest.raises(MalformedResponse, match="repeated cursor"):
        list(make_client(handler).market_pages())


def test_the_next_page_is_requested_while_the_caller_still_holds_this_one():
    next_requested = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c1":
            next_requested.set()
            return httpx.Response(503, json={"error": {"code": "unavailable"}})
        return ok({"markets": [market_json(ticker="A")], "cursor": "c1"})

    pages = make_client(handler, max_attempts=1).market_pages()
    first = next(pages)
    assert next_requested.wait(timeout=5)
    assert [q.ticker for q in first.quotes] == ["A"]
    with pytest.raises(ServerError):
        next(pages)


def test_books_and_events_are_fetched_side_by_side_and_returned_in_order():
    both_in_flight = threading.Barrier(2, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        both_in_flight.wait()
        parts = request.url.path.split("/")
        if parts[-1] == "orderbook":
            return ok({"orderbook": {"yes": [[int(parts[-2][-1]), 10]], "no": []}})
        event = {"event_ticker": parts[-1], "series_ticker": "S", "mutually_exclusive": True}
        return ok({"event": event})

    client = make_client(handler)
    books = client.order_books(["M1", "M2"], depth=5)
    events = client.events_of(["E1", "E2"])
    assert [(b.ticker, b.yes_bids[0].price) for b in books] == [
        ("M1", Decimal("0.01")),
        ("M2", Decimal("0.02")),
    ]
    assert [e.event_ticker for e in events] == ["E1", "E2"]


def test_429_is_retried_with_growing_backoff_then_succeeds():
    handler, seen = scripted(httpx.Response(429), httpx.Response(429), ok(TRADING))
    client = make_client(handler)
    assert client.exchange_state() == ExchangeState(True, True)
    assert len(seen) == 3
    assert [c.error_class for c in client.calls] == ["rate_limited", "rate_limited", None]
    assert [c.attempt for c in client.calls] == [1, 2, 3]
    first, second = client.sleeps
    assert 0.1 <= first <= 0.2 and 0.2 <= second <= 0.4


def test_429_storm_gives_up_after_max_attempts():
    handler, seen = scripted(httpx.Response(429))
    client = make_client(handler, max_attempts=3)
    with pytest.raises(RateLimited):
        client.exchange_state()
    assert len(seen) == 3 and len(client.calls) == 3


def test_5xx_is_retried_and_classified():
    handler, _ = scripted(httpx.Response(503))
    client = make_client(handler, max_attempts=2)
    with pytest.raises(ServerError):
        client.exchange_state()
    assert [c.error_class for c in client.calls] == ["server_error", "server_error"]


def test_timeout_is_classified_and_retried():
    handler, seen = scripted(httpx.ReadTimeout("slow"), ok(TRADING))
    client = make_client(handler)
    client.exchange_state()
    assert len(seen) == 2 and client.calls[0].error_class == "timeout"


def test_timeout_storm_surfaces_as_timeout():
    handler, _ = scripted(httpx.ReadTimeout("slow"))
    with pytest.raises(ExchangeTimeout):
        make_client(handler, max_attempts=2).exchange_state()


def test_unreachable_exchange():
    handler, _ = scripted(httpx.ConnectError("refused"))
    client = make_client(handler, max_attempts=2)
    with pytest.raises(ExchangeUnreachable, match="cannot reach"):
        client.exchange_state()
    assert client.calls[-1].status is None


def test_malformed_json_is_retried_then_fails():
    handler, _ = scripted(httpx.Response(200, content=b'{"markets": [trunc'))
    client = make_client(handler, max_attempts=2)
    with pytest.raises(MalformedResponse, match="not JSON"):
        list(client.market_pages())
    assert [c.error_class for c in client.calls] == ["malformed_response"] * 2


def test_4xx_is_not_retried_and_carries_the_exchange_reason():
    body = {"error": {"code": "invalid_parameters", "message": "limit too large"}}
    handler, seen = scripted(httpx.Response(400, json=body))
    with pytest.raises(RequestRejected, match="invalid_parameters") as raised:
        make_client(handler).exchange_state()
    assert raised.value.status == 400 and len(seen) == 1


def test_401_is_auth_rejected():
    handler, _ = scripted(httpx.Response(401, json={"error": {"code": "unauthorized"}}))
    with pytest.raises(AuthRejected):
        make_client(handler).balance()


def test_a_market_missing_a_field_is_skipped_and_counted():
    broken = market_json(ticker="BROKEN")
    del broken["close_time"]
    handler, _ = scripted(ok({"markets": [market_json(ticker="A"), broken], "cursor": ""}))
    client = make_client(handler)
    (page,) = list(client.market_pages())
    assert [q.ticker for q in page.quotes] == ["A"]
    assert len(page.invalid) == 1 and "close_time" in str(page.invalid[0])
    assert [c.error_class for c in client.calls] == [None, "schema_error"]


def test_portfolio_records_are_never_skipped():
    handler, _ = scripted(ok({"fills": [{"fill_id": "x"}], "cursor": ""}))
    with pytest.raises(SchemaError, match="missing required field"):
        make_client(handler).fills()


def test_portfolio_calls_are_signed_and_market_data_is_not():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    balance = {"balance": 100, "balance_dollars": "1.0000", "portfolio_value": 100}
    limits = {
        "usage_tier": "basic",
        "read": {"refill_rate": 200, "bucket_capacity": 200},
        "write": {"refill_rate": 100, "bucket_capacity": 100},
    }
    handler, seen = scripted(ok(balance), ok(limits), ok(TRADING))
    client = make_client(handler, Credentials("key-1", key))
    client.balance()
    assert client.account_limits().read.refill_per_s == 200
    client.exchange_state()
    signed, signed_limits, unsigned = seen
    assert signed_limits.headers[signing.KEY_HEADER] == "key-1"
    assert signed.headers[signing.KEY_HEADER] == "key-1"
    assert signing.verify(
        key.public_key(),
        int(signed.headers[signing.TIMESTAMP_HEADER]),
        "GET",
        "/trade-api/v2/portfolio/balance",
        signed.headers[signing.SIGNATURE_HEADER],
    )
    assert signing.KEY_HEADER not in unsigned.headers
    assert "key-1" not in repr(Credentials("key-1", key))


def order_json(**overrides) -> dict:
    """An `Order` as Kalshi lists it now: direction as book side and outcome side."""
    order = {
        "order_id": "ord-1",
        "client_order_id": "cid-1",
        "ticker": "T",
        "outcome_side": "yes",
        "book_side": "bid",
        "type": "limit",
        "status": "executed",
        "yes_price_dollars": "0.9000",
        "no_price_dollars": "0.1000",
        "initial_count_fp": "10.00",
        "fill_count_fp": "10.00",
        "remaining_count_fp": "0.00",
        "taker_fees_dollars": "0.0700",
        "maker_fees_dollars": "0.0000",
        "created_time": "2026-11-29T12:00:00Z",
    }
    order.update(overrides)
    return order


def created_json(**overrides) -> dict:
    """A `CreateOrderV2Response`."""
    created = {
        "order_id": "ord-1",
        "client_order_id": "cid-1",
        "fill_count": "10.00",
        "remaining_count": "0.00",
        "average_fill_price": "0.9000",
        "average_fee_paid": "0.0070",
        "ts_ms": 1_795_953_600_000,
    }
    created.update(overrides)
    return created


INTENT = OrderIntent("cid-1", "T", "yes", "buy", 10, Decimal("0.90"))


def test_order_body_is_a_v2_bid_with_fixed_point_count_and_price():
    handler, seen = scripted(httpx.Response(201, json=created_json()))
    order = make_client(handler).create_order(INTENT)
    assert seen[0].url.path == "/trade-api/v2/portfolio/events/orders"
    body = json.loads(seen[0].content)
    assert body == {
        "ticker": "T",
        "client_order_id": "cid-1",
        "side": "bid",
        "count": "10.00",
        "price": "0.9000",
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
        "cancel_order_on_pause": True,
    }
    assert order.fees == Decimal("0.07") and order.filled_contracts == 10
    assert order.status == "executed" and order.side == "yes" and order.action == "buy"


def test_buying_no_is_an_ask_on_the_yes_book_at_one_minus_the_price():
    handler, seen = scripted(httpx.Response(201, json=created_json(remaining_count="4.00")))
    no_intent = OrderIntent(
        "cid-1", "T", "no", "buy", 10, Decimal("0.935"), "good_till_canceled", True, "g-1"
    )
    order = make_client(handler).create_order(no_intent)
    body = json.loads(seen[0].content)
    assert (body["side"], body["price"], body["post_only"]) == ("ask", "0.0650", True)
    assert body["order_group_id"] == "g-1"
    assert order.status == "resting" and order.remaining_contracts == 4


def test_an_answer_without_order_id_is_resolved_by_client_order_id():
    """A V2 answer that names no order is no proof the order exists: it is looked up."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=created_json(order_id=""))
        return ok({"orders": [order_json()], "cursor": ""})

    order = make_client(handler).create_order(INTENT)
    assert order.order_id == "ord-1" and order.status == "executed"


def test_post_timeout_is_retried_with_the_same_id_and_resolved_by_it():
    """Timeout, then the retry is told the id exists: the order is looked up, never re-sent."""
    duplicate = httpx.Response(409, json={"error": {"code": "order_already_exists"}})
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "POST":
            if len([r for r in requests if r.method == "POST"]) == 1:
                raise httpx.ReadTimeout("no answer")
            return duplicate
        return ok({"orders": [order_json(client_order_id="other"), order_json()], "cursor": ""})

    order = make_client(handler).create_order(INTENT)
    posts = [json.loads(r.content) for r in requests if r.method == "POST"]
    assert len(posts) == 2 and {p["client_order_id"] for p in posts} == {"cid-1"}
    assert order.order_id == "ord-1"


def test_refused_post_with_no_order_at_the_exchange_is_not_placed():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(429)
        return ok({"orders": [], "cursor": ""})

    with pytest.raises(OrderNotPlaced):
        make_client(handler, max_attempts=2).create_order(INTENT)


def test_a_5xx_post_not_yet_visible_stays_unknown_never_not_placed():
    """The exchange may still process a request it answered with 500: an empty lookup
    right after is no proof, so the order stays unknown until reconciliation."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(503)
        return ok({"orders": [], "cursor": ""})

    with pytest.raises(OrderOutcomeUnknown, match="does not show it yet"):
        make_client(handler, max_attempts=2).create_order(INTENT)


def test_failed_post_and_failed_lookup_is_outcome_unknown():
    handler, _ = scripted(httpx.ReadTimeout("gone"))
    with pytest.raises(OrderOutcomeUnknown, match="lookup failed"):
        make_client(handler, max_attempts=2).create_order(INTENT)


def test_rejected_order_keeps_the_exchange_reason():
    body = {"error": {"code": "insufficient_balance", "message": "not enough cash"}}
    handler, _ = scripted(httpx.Response(400, json=body))
    with pytest.raises(RequestRejected) as raised:
        make_client(handler).create_order(INTENT)
    assert raised.value.code == "insufficient_balance"


def test_timeouts_are_configured_on_the_transport():
    client = make_client(lambda r: ok({}), timeout_s=2.5, connect_timeout_s=0.5)
    assert client._http.timeout == httpx.Timeout(2.5, connect=0.5)


def test_each_attempt_says_whether_it_ended_its_call():
    """Retried attempts are not final; the one that returned or gave up is."""
    handler, _ = scripted(httpx.Response(429), httpx.Response(503), ok(TRADING))
    recovered = make_client(handler)
    recovered.exchange_state()
    assert [(c.error_class, c.final) for c in recovered.calls] == [
        ("rate_limited", False),
        ("server_error", False),
        (None, True),
    ]
    handler, _ = scripted(httpx.Response(503))
    storm = make_client(handler, max_attempts=3)
    with pytest.raises(ServerError):
        storm.exchange_state()
    assert [c.final for c in storm.calls] == [False, False, True]
    handler, _ = scripted(httpx.Response(400, json={"error": {"code": "bad"}}))
    refused = make_client(handler)
    with pytest.raises(RequestRejected):
        refused.exchange_state()
    assert [(c.error_class, c.final) for c in refused.calls] == [("rejected", True)]


def test_a_skipped_record_is_a_final_failure():
    broken = market_json(ticker="BROKEN", volume="lots")
    handler, _ = scripted(ok({"markets": [broken], "cursor": ""}))
    client = make_client(handler)
    list(client.market_pages())
    assert [(c.error_class, c.final) for c in client.calls] == [
        (None, True),
        ("schema_error", True),
    ]


def endless(chunk: bytes, consumed: list[int]):
    """A body that never ends, counting the chunks the client pulled out of it."""
    while True:
        consumed.append(len(chunk))
        yield chunk


def test_a_body_over_the_cap_is_refused_while_it_streams_and_not_retried():
    consumed: list[int] = []
    handler, seen = scripted(httpx.Response(200, content=endless(b"x" * 65536, consumed)))
    client = make_client(handler, max_response_bytes=1024 * 1024)
    with pytest.raises(ResponseTooLarge, match="1,048,576-byte cap"):
        client.exchange_state()
    assert len(seen) == 1 and sum(consumed) <= 1024 * 1024 + 65536
    assert [(c.error_class, c.final) for c in client.calls] == [("response_too_large", True)]


def test_a_declared_body_over_the_cap_is_refused_unread():
    consumed: list[int] = []
    declared = {"content-length": str(10 * 1024 * 1024)}
    handler, _ = scripted(httpx.Response(200, headers=declared, content=endless(b"x", consumed)))
    with pytest.raises(ResponseTooLarge, match="10,485,760 bytes"):
        make_client(handler).exchange_state()
    assert consumed == []


def test_the_default_cap_takes_a_thousand_market_page():
    page = {"markets": [market_json(ticker=f"M{n}") for n in range(1000)], "cursor": ""}
    handler, _ = scripted(ok(page))
    client = make_client(handler)
    assert client.settings.max_response_bytes == 8 * 1024 * 1024
    assert len(next(client.market_pages()).quotes) == 1000


def test_error_statuses_are_classified_without_reading_the_body():
    consumed: list[int] = []
    html = endless(b"<html>502 Bad Gateway</html>", consumed)
    handler, _ = scripted(httpx.Response(502, headers={"content-type": "text/html"}, content=html))
    with pytest.raises(ServerError, match="HTTP 502"):
        make_client(handler, max_attempts=1).exchange_state()
    assert consumed == []


def test_a_body_dripped_past_the_timeout_is_a_timeout():
    def drip():
        while True:
            time.sleep(0.05)
            yield b" "

    handler, _ = scripted(httpx.Response(200, content=drip()))
    with pytest.raises(ExchangeTimeout, match=r"body not received within the 0\.2 s timeout"):
        make_client(handler, max_attempts=1, timeout_s=0.2).exchange_state()


def test_an_undecodable_body_is_malformed():
    handler, _ = scripted(
        httpx.Response(200, headers={"content-encoding": "gzip"}, content=iter([b"not gzip"]))
    )
    with pytest.raises(MalformedResponse, match="cannot be decoded"):
        make_client(handler, max_attempts=1).exchange_state()


def fresh_cursor_forever(seen: list[str | None]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params.get("cursor"))
        return ok({"markets": [market_json(ticker=f"M{len(seen)}")], "cursor": f"c{len(seen)}"})

    return handler


def test_a_fresh_cursor_every_page_stops_at_the_page_cap_after_keeping_the_pages():
    seen: list[str | None] = []
    guard = PageGuard(ScanBounds(max_pages=5, budget_s=1e9, basis="five pages"))
    pages = make_client(fresh_cursor_forever(seen)).market_pages(guard=guard)
    kept = []
    with pytest.raises(ScanBoundExceeded, match=r"page cap hit: 5 pages .*\(cap 5: five pages\)"):
        for page in pages:
            kept.extend(q.ticker for q in page.quotes)
    assert kept == ["M1", "M2", "M3", "M4", "M5"] and len(seen) == 5


def test_the_wall_clock_budget_stops_paging():
    seen: list[str | None] = []
    clock = iter(range(0, 1000, 10))  # every reading is 10 s after the one before
    guard = PageGuard(ScanBounds(100, 35.0, "a hundred"), clock=lambda: float(next(clock)))
    with pytest.raises(ScanBoundExceeded, match=r"wall-clock budget hit: 40.0 s spent on 3 pages"):
        list(make_client(fresh_cursor_forever(seen)).market_pages(guard=guard))
    assert len(seen) == 3


def test_one_guard_bounds_every_listing_of_a_scan():
    seen: list[str | None] = []
    guard = PageGuard(ScanBounds(max_pages=3, budget_s=1e9, basis="three"))
    client = make_client(fresh_cursor_forever(seen))
    with pytest.raises(ScanBoundExceeded):
        list(client.market_pages(series_ticker="A", guard=guard))
    with pytest.raises(ScanBoundExceeded, match="page cap hit: 3 pages"):
        list(client.market_pages(series_ticker="B", guard=guard))
    assert len(seen) == 3
