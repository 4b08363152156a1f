"""Every simulator response parses with Kalshi's current official SDK models
(kalshi-python-sync 3.34.0): the wire contract the simulator stands in for."""

from __future__ import annotations

from importlib.metadata import version

from kalshi_python_sync import models

from flb_pipeline_tests.exchange.simulator.helpers import SimClient

SDK_VERSION = "3.34.0"


def test_the_contract_is_kalshis_current_sdk() -> None:
    assert version("kalshi-python-sync") == SDK_VERSION


def test_market_data_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
    models.ExchangeStatus.from_dict(sim.get("/exchange/status"))
    schedule = models.GetExchangeScheduleResponse.from_dict(sim.get("/exchange/schedule"))
    assert schedule.schedule.maintenance_windows
    series = models.GetSeriesListResponse.from_dict(sim.get("/series"))
    assert {s.fee_type for s in series.series} == {"quadratic", "quadratic_with_maker_fees"}
    models.GetSeriesResponse.from_dict(sim.get("/series/KXHIGHNY"))
    models.GetSeriesFeeChangesResponse.from_dict(sim.get("/series/fee_changes"))
    events = models.GetEventsResponse.from_dict(
        sim.get("/events", status="open", limit=3, with_nested_markets="true")
    )
    assert events.events[0].markets
    event = models.GetEventResponse.from_dict(sim.get(f"/events/{events.events[0].event_ticker}"))
    assert event.markets
    listing = models.GetMarketsResponse.from_dict(sim.get("/markets", limit=1000))
    assert {m.status for m in listing.markets} >= {"active", "finalized", "initialized"}
    assert {m.price_level_structure for m in listing.markets} == {
        "linear_cent", "tapered_deci_cent", "deci_cent"
    }  # fmt: skip
    ticker = sim.two_sided()["ticker"]
    models.GetMarketResponse.from_dict(sim.get(f"/markets/{ticker}"))
    book = models.GetMarketOrderbookResponse.from_dict(sim.get(f"/markets/{ticker}/orderbook"))
    assert book.orderbook_fp.yes_dollars and book.orderbook_fp.no_dollars
    models.GetTradesResponse.from_dict(sim.get("/markets/trades", limit=20))
    models.GetTradesResponse.from_dict(sim.get("/markets/trades", ticker=ticker))
    limits = models.GetAccountApiLimitsResponse.from_dict(sim.get("/account/limits"))
    assert limits.read.refill_rate > 0


def test_candlestick_and_historical_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
    settled = sim.get("/markets", status="settled", limit=3)["markets"]
    first = settled[0]
    series = first["event_ticker"].split("-")[0]
    single = models.GetMarketCandlesticksResponse.from_dict(
        sim.get(
            f"/series/{series}/markets/{first['ticker']}/candlesticks",
            start_ts=0,
            end_ts=2**40,
            period_interval=1,
        )
    )
    assert single.candlesticks
    batch = models.BatchGetMarketCandlesticksResponse.from_dict(
        sim.get(
            "/markets/candlesticks",
            market_tickers=",".join(m["ticker"] for m in settled),
            start_ts=0,
            end_ts=2**40,
            period_interval=60,
        )
    )
    assert [m.market_ticker for m in batch.markets] == [m["ticker"] for m in settled]
    models.GetHistoricalCutoffResponse.from_dict(sim.get("/historical/cutoff"))
    old = models.GetMarketsResponse.from_dict(sim.get("/historical/markets", limit=5))
    assert old.markets
    ticker = old.markets[0].ticker
    models.GetMarketResponse.from_dict(sim.get(f"/historical/markets/{ticker}"))
    history = models.GetMarketCandlesticksHistoricalResponse.from_dict(
        sim.get(
            f"/historical/markets/{ticker}/candlesticks",
            start_ts=0,
            end_ts=2**40,
            period_interval=60,
        )
    )
    assert history.candlesticks


def test_portfolio_and_v2_order_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
    market = sim.two_sided(min_life_s=120)
    group = sim.http.post("/portfolio/order_groups/create", json={"contracts_limit_fp": "50"})
    created_group = models.CreateOrderGroupResponse.from_dict(group.json())
    group_id = created_group.order_group_id
    taker = sim.order(
        ticker=market["ticker"], side="bid", count="3", price=market["yes_ask_dollars"],
        order_group_id=group_id, cancel_order_on_pause=True,
    )  # fmt: skip
    created = models.CreateOrderV2Response.from_dict(taker.json())
    resting = sim.placed(
        ticker=market["ticker"], side="bid", count="2", price=market["yes_bid_dollars"],
        time_in_force="good_till_canceled",
    )  # fmt: skip
    batched = sim.http.post(
        "/portfolio/events/orders/batched",
        json={
            "orders": [
                {
                    "ticker": market["ticker"], "side": "ask", "count": "1",
                    "price": market["yes_bid_dollars"], "time_in_force": "immediate_or_cancel",
                    "self_trade_prevention_type": "taker_at_cross",
                },
                {"ticker": market["ticker"], "side": "sideways"},
            ]
        },
    )  # fmt: skip
    models.BatchCreateOrdersV2Response.from_dict(batched.json())
    models.GetBalanceResponse.from_dict(sim.get("/portfolio/balance"))
    positions = models.GetPositionsResponse.from_dict(sim.get("/portfolio/positions"))
    assert positions.market_positions[0].position_fp
    models.GetOrdersResponse.from_dict(sim.get("/portfolio/orders"))
    order = models.GetOrderResponse.from_dict(sim.get(f"/portfolio/orders/{created.order_id}"))
    assert order.order.order_group_id == group_id and order.order.book_side == "bid"
    fills = models.GetFillsResponse.from_dict(sim.get("/portfolio/fills"))
    assert fills.fills[-1].count_fp == "3.00"
    models.GetOrderGroupResponse.from_dict(sim.get(f"/portfolio/order_groups/{group_id}"))
    models.GetOrderGroupsResponse.from_dict(sim.get("/portfolio/order_groups"))
    canceled = sim.http.delete(f"/portfolio/events/orders/{resting['order_id']}")
    assert models.CancelOrderV2Response.from_dict(canceled.json()).reduced_by == "2.00"
    batch_cancel = sim.http.request(
        "DELETE", "/portfolio/events/orders/batched", json={"orders": [{"order_id": "gone"}]}
    )
    models.BatchCancelOrdersV2Response.from_dict(batch_cancel.json())
    sim.advance(3_600)
    settlements = models.GetSettlementsResponse.from_dict(sim.get("/portfolio/settlements"))
    assert settlements.settlements[0].ticker == market["ticker"]


def test_errors_parse_with_the_sdk_error_model(sim: SimClient) -> None:
    missing = sim.http.get("/markets/NOPE-1")
    assert models.ErrorResponse.from_dict(missing.json()["error"]).code == "not_found"
