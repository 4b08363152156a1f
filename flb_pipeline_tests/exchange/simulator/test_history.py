"""The synthetic past: settled markets with full candle history, a trade tape, and the FLB."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, START, SimClient, epoch


def _candles(sim: SimClient, ticker: str, period: int = 1) -> list[dict]:
    series = ticker.split("-")[0]
    return sim.get(
        f"/series/{series}/markets/{ticker}/candlesticks",
        start_ts=0,
        end_ts=2**40,
        period_interval=period,
    )["candlesticks"]


def test_history_is_settled_and_spread_over_the_configured_days(sim: SimClient) -> None:
    settled = sim.settled_markets()
    closes = sorted(epoch(m["close_time"]) for m in settled)
    span_days = (closes[-1] - closes[0]) / 86_400
    assert 0.9 * BASE_CONFIG.history_days <= span_days <= BASE_CONFIG.history_days
    assert closes[-1] + BASE_CONFIG.settle_delay_s <= START.timestamp()
    events = {m["event_ticker"] for m in settled}
    assert len(events) == BASE_CONFIG.history_events


def test_history_markets_have_candles_from_open_to_close(sim: SimClient) -> None:
    market = sim.get("/markets", status="settled", limit=1)["markets"][0]
    candles = _candles(sim, market["ticker"])
    opened, closed = epoch(market["open_time"]), epoch(market["close_time"])
    assert candles[0]["end_period_ts"] - 60 < opened <= candles[0]["end_period_ts"]
    assert candles[-1]["end_period_ts"] - 60 < closed <= candles[-1]["end_period_ts"] + 60
    ends = [c["end_period_ts"] for c in candles]
    assert ends == list(range(ends[0], ends[-1] + 60, 60))
    volume = Decimal(market["volume_fp"])
    assert sum(Decimal(c["volume_fp"]) for c in candles) == volume
    for candle in candles:
        bid, ask = candle["yes_bid"], candle["yes_ask"]
        assert bid["low_dollars"] <= bid["close_dollars"] <= bid["high_dollars"]
        assert ask["low_dollars"] <= ask["high_dollars"]
        assert (candle["price"]["close_dollars"] is None) == (candle["volume_fp"] == "0.00")
    hourly = _candles(sim, market["ticker"], period=60)
    assert sum(Decimal(c["volume_fp"]) for c in hourly) == volume


def test_trade_tape_is_newest_first_and_paginates(sim: SimClient) -> None:
    first = sim.get("/markets/trades", limit=50)
    second = sim.get("/markets/trades", limit=50, cursor=first["cursor"])
    times = [t["created_time"] for t in first["trades"] + second["trades"]]
    assert times == sorted(times, reverse=True)
    assert epoch(times[0]) <= START.timestamp()
    ids = [t["trade_id"] for t in first["trades"] + second["trades"]]
    assert len(set(ids)) == 100
    ticker = first["trades"][0]["ticker"]
    own = sim.get("/markets/trades", ticker=ticker, limit=1000)["trades"]
    assert own and {t["ticker"] for t in own} == {ticker}
    assert sum(Decimal(t["count_fp"]) for t in own) == Decimal(sim.market(ticker)["volume_fp"])
    window = sim.get("/markets/trades", min_ts=int(START.timestamp()) - 60, limit=1000)
    assert all(epoch(t["created_time"]) >= START.timestamp() - 60 for t in window["trades"])


@pytest.fixture(scope="module")
def favourites() -> list[tuple[float, bool]]:
    """(price, won) of the favourite side of every two-sided one-minute candle close.

    A side is a favourite when its mid is 85-95c: YES at mid m, or NO at 100 - m. Pooling both
    sides is how the strategy sees the book, and it doubles the sample.
    """
    config = SimConfig(
        seed=BASE_CONFIG.seed,
        markets_target=20,
        market_lifetime_s=300,
        history_events=1500,
        clock_mode="manual",
        start_time=START,
        rate_tier="unlimited",
        historical_cutoff_s=30 * 86_400,
    )
    with SimulatorServer(config) as server, SimClient(server) as sim:
        settled = sim.all_markets(status="settled")
        yes_won = {m["ticker"]: m["result"] == "yes" for m in settled}
        samples = []
        for start in range(0, len(settled), 100):
            batch = sim.get(
                "/markets/candlesticks",
                market_tickers=",".join(m["ticker"] for m in settled[start : start + 100]),
                start_ts=0,
                end_ts=2**40,
                period_interval=1,
            )
            for market in batch["markets"]:
                won = yes_won[market["market_ticker"]]
                for candle in market["candlesticks"]:
                    bid = 100 * float(candle["yes_bid"]["close_dollars"])
                    ask = 100 * float(candle["yes_ask"]["close_dollars"])
                    mid = (bid + ask) / 2
                    if bid > 0 and ask < 100 and 85 <= mid < 95:
                        samples.append((mid, won))
                    if bid > 0 and ask < 100 and 85 <= 100 - mid < 95:
                        samples.append((100 - mid, not won))
        return samples


def test_favourites_win_more_often_than_their_price(favourites: list) -> None:
    """The FLB with slope b > 1: contracts priced 85-95c win more often than they cost."""
    assert len(favourites) > 5000
    price = sum(mid for mid, _ in favourites) / len(favourites)
    realised = 100 * sum(won for _, won in favourites) / len(favourites)
    assert realised > price + 0.5
