"""GET /markets and /events: filters, limits, cursor pagination, determinism."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, START, SimClient, epoch


def test_open_markets_track_the_target_and_every_family(sim: SimClient) -> None:
    open_markets = sim.all_markets(status="open")
    assert 0.8 * 80 <= len(open_markets) <= 1.2 * 80
    assert {m["status"] for m in open_markets} == {"active"}
    categories = sim.categories(open_markets)
    assert categories == {"Climate and Weather", "Financials", "Economics", "Sports"}
    assert {m["price_level_structure"] for m in open_markets} == {
        "linear_cent",
        "tapered_deci_cent",
        "deci_cent",
    }


def test_pages_of_1000_cover_everything_once_and_end_with_empty_cursor(sim: SimClient) -> None:
    sim.reset(markets_target=1500, history_events=300)
    first = sim.get("/markets", limit=1000)
    assert len(first["markets"]) == 1000 and first["cursor"]
    everything = sim.all_markets()
    tickers = [m["ticker"] for m in everything]
    assert len(tickers) == len(set(tickers)) > 2000
    assert sim.get("/markets", limit=1000, cursor=first["cursor"])["markets"][0] == everything[1000]


def test_small_pages_concatenate_to_the_full_listing(sim: SimClient) -> None:
    full = sim.get("/markets", status="open", limit=1000)["markets"]
    paged, cursor = [], ""
    while True:
        page = sim.get("/markets", status="open", limit=7, cursor=cursor)
        paged += page["markets"]
        cursor = page["cursor"]
        if not cursor:
            break
    assert [m["ticker"] for m in paged] == [m["ticker"] for m in full]


@pytest.mark.parametrize("limit", [0, 1001, "x"])
def test_limit_out_of_range_is_a_400(sim: SimClient, limit: object) -> None:
    response = sim.http.get("/markets", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameters"


def test_default_limit_is_100_and_bad_cursor_is_rejected(sim: SimClient) -> None:
    assert len(sim.get("/markets")["markets"]) == 100
    response = sim.http.get("/markets", params={"cursor": "not-a-cursor"})
    assert response.status_code == 400


def test_status_filters_and_lifecycle_fields(sim: SimClient) -> None:
    """The filter's values (unopened, open, closed, settled) select Kalshi's lifecycle
    statuses; `settled` covers determined and finalized markets."""
    settled = sim.all_markets(status="settled")
    assert settled and all(m["result"] in ("yes", "no") for m in settled)
    assert {m["status"] for m in settled} == {"finalized"}
    assert all(
        m["settlement_value_dollars"] == ("1.0000" if m["result"] == "yes" else "0.0000")
        and m["settlement_ts"]
        for m in settled
    )
    unopened = sim.all_markets(status="unopened")
    assert unopened and {m["status"] for m in unopened} == {"initialized"}
    market = sim.two_sided()
    sim.advance(epoch(market["close_time"]) - START.timestamp() + 1)
    closed = sim.all_markets(status="closed")
    assert market["ticker"] in {m["ticker"] for m in closed}
    assert all(m["result"] == "" for m in closed)
    both = sim.all_markets(status="closed,settled")
    assert len(both) == len(closed) + len(sim.all_markets(status="settled"))
    sim.advance(BASE_CONFIG.settle_delay_s)
    determined = sim.market(market["ticker"])
    assert determined["status"] == "determined" and determined["result"] in ("yes", "no")
    assert market["ticker"] in {m["ticker"] for m in sim.all_markets(status="settled")}
    sim.advance(300)
    assert sim.market(market["ticker"])["status"] == "finalized"


def test_series_event_and_ticker_filters(sim: SimClient) -> None:
    weather_ny = sim.all_markets(series_ticker="KXHIGHNY")
    assert weather_ny and all(m["event_ticker"].startswith("KXHIGHNY-") for m in weather_ny)
    events = sorted({m["event_ticker"] for m in weather_ny})[:2]
    by_event = sim.all_markets(event_ticker=",".join(events))
    assert {m["event_ticker"] for m in by_event} == set(events)
    assert len(by_event) == 12
    tickers = [m["ticker"] for m in by_event[:3]]
    assert [m["ticker"] for m in sim.all_markets(tickers=",".join(tickers))] == tickers
    assert sim.all_markets(mve_filter="only") == []
    assert len(sim.all_markets(mve_filter="exclude")) == len(sim.all_markets())


def test_close_and_settled_time_windows(sim: SimClient) -> None:
    now = START.timestamp()
    closing_soon = sim.all_markets(min_close_ts=int(now), max_close_ts=int(now) + 300)
    assert closing_soon
    assert all(now <= epoch(m["close_time"]) <= now + 300 for m in closing_soon)
    day_ago = sim.all_markets(min_settled_ts=int(now) - 86_400, max_settled_ts=int(now))
    assert day_ago and {m["status"] for m in day_ago} == {"finalized"}
    assert all(epoch(m["settlement_ts"]) >= now - 86_400 for m in day_ago)


def test_events_listing_filters_and_paginates(sim: SimClient) -> None:
    assert sim.http.get("/events", params={"limit": 201}).status_code == 400
    page = sim.get("/events", status="open", limit=5, with_nested_markets="true")
    assert len(page["events"]) == 5 and page["cursor"]
    assert all(len(e["markets"]) in (2, 5, 6, 7) for e in page["events"])
    nxt = sim.get("/events", status="open", limit=5, cursor=page["cursor"])
    assert not {e["event_ticker"] for e in page["events"]} & {
        e["event_ticker"] for e in nxt["events"]
    }
    weather = sim.get("/events", series_ticker="KXHIGHCHI", limit=200)["events"]
    assert weather and all(e["mutually_exclusive"] for e in weather)
    economics = sim.get("/events", series_ticker="KXCPI", limit=200)["events"]
    assert economics and not any(e["mutually_exclusive"] for e in economics)


def test_unknown_market_event_and_series_are_404(sim: SimClient) -> None:
    for path in ("/markets/NOPE-1", "/markets/NOPE-1/orderbook", "/events/NOPE", "/series/NOPE"):
        response = sim.http.get(path)
        assert response.status_code == 404
        assert set(response.json()["error"]) == {"code", "message", "details"}
    assert sim.http.get("/no/such/route").json()["error"]["code"] == "not_found"
    wrong_method = sim.http.put("/markets")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_quotes_only_change_at_tick_boundaries(sim: SimClient) -> None:
    """Quotes move with the tick; `updated_time` is the listing's metadata time and does
    not move with them (Kalshi's meaning: never a quote time)."""
    now = sim.control("/clock")["now_ts"]
    tickers = [
        m["ticker"] for m in sim.all_markets(status="open") if epoch(m["close_time"]) - now > 120
    ]
    before = {t: sim.market(t) for t in tickers}
    sim.advance(BASE_CONFIG.tick_s / 2 - 1)
    assert {t: sim.market(t) for t in tickers} == before
    sim.advance(BASE_CONFIG.tick_s * 6)
    after = {t: sim.market(t) for t in tickers}
    assert any(after[t]["yes_bid_dollars"] != before[t]["yes_bid_dollars"] for t in tickers)
    assert all(after[t]["updated_time"] == before[t]["updated_time"] for t in tickers)
    assert all(epoch(before[t]["updated_time"]) <= epoch(before[t]["open_time"]) for t in tickers)


def _full_listing(config: SimConfig, advance_s: float) -> str:
    with SimulatorServer(config) as server, SimClient(server) as client:
        client.advance(advance_s)
        return json.dumps(client.all_markets())


def test_same_seed_same_markets_different_seed_different_markets() -> None:
    config = replace(BASE_CONFIG, seed=3, markets_target=60, history_events=60)
    first = _full_listing(config, 95)
    assert first == _full_listing(config, 95)
    assert first != _full_listing(replace(config, seed=4), 95)
