"""Every endpoint's response parses with Kalshi's official SDK models (kalshi-python-sync)."""

from __future__ import annotations

from kalshi_python_sync import models

from flb_pipeline_tests.exchange.simulator.helpers import SimClient


def test_market_data_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
    models.ExchangeStatus.from_dict(sim.get("/exchange/status"))
    series = models.GetSeriesListResponse.from_dict(sim.get("/series"))
    assert {s.fee_type for s in series.series} == {"quadratic", "quadratic_with_maker_fees"}
    models.GetSeriesResponse.from_dict(sim.get("/series/KXHIGHNY"))
    events = models.GetEventsResponse.from_dict(
        sim.get("/events", status="open", limit=3, with_nested_markets="true")
    )
    assert events.events[0].markets
    event = models.GetEventResponse.from_dict(sim.get(f"/events/{events.events[0].event_ticker}"))
    assert event.markets
    listing = models.GetMarketsResponse.from_dict(sim.get("/markets", limit=1000))
    assert {m.status for m in listing.markets} >= {"active", "settled", "initialized"}
    ticker = sim.two_sided()["ticker"]
    models.GetMarketResponse.from_dict(sim.get(f"/markets/{ticker}"))
    book = models.GetMarketOrderbookResponse.from_dict(sim.get(f"/markets/{ticker}/orderbook"))
    assert book.orderbook.yes_dollars and book.orderbook.no_dollars
    models.GetTradesResponse.from_dict(sim.get("/markets/trades", limit=20))
    models.GetTradesResponse.from_dict(sim.get("/markets/trades", ticker=ticker))


def test_candlestick_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
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


def test_portfolio_endpoints_parse_with_sdk_models(sim: SimClient) -> None:
    market = sim.two_sided(min_life_s=120)
    taker = sim.order(ticker=market["ticker"], side="yes", count=3, yes_price=market["yes_ask"])
    created = models.CreateOrderResponse.from_dict(taker.json())
    resting = sim.placed(
        ticker=market["ticker"],
        side="yes",
        count=2,
        yes_price=market["yes_bid"] - 1,
        time_in_force="good_till_canceled",
    )
    models.GetBalanceResponse.from_dict(sim.get("/portfolio/balance"))
    positions = models.GetPositionsResponse.from_dict(sim.get("/portfolio/positions"))
    assert positions.market_positions[0].resting_orders_count == 1
    models.GetOrdersResponse.from_dict(sim.get("/portfolio/orders"))
    models.GetOrderResponse.from_dict(sim.get(f"/portfolio/orders/{created.order.order_id}"))
    fills = models.GetFillsResponse.from_dict(sim.get("/portfolio/fills"))
    assert fills.fills[0].count == 3
    canceled = sim.http.delete(f"/portfolio/orders/{resting['order_id']}")
    assert models.CancelOrderResponse.from_dict(canceled.json()).reduced_by == 2
    sim.advance(3_600)
    settlements = models.GetSettlementsResponse.from_dict(sim.get("/portfolio/settlements"))
    assert settlements.settlements[0].ticker == market["ticker"]
