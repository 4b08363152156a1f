"""Settlement and the cash ledger: balance, positions and settlements agree to the cent."""

from __future__ import annotations

from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient

_ALL = {"limit": 1000}


def _trade_a_few_markets(sim: SimClient) -> None:
    """Buys on both sides, a partial close by selling, and a resting order."""
    markets = [m for m in sim.all_markets(status="open") if 5 <= m["yes_bid"] < m["yes_ask"] <= 95]
    for index, market in enumerate(markets[:8]):
        side = "yes" if index % 2 else "no"
        price = market["yes_ask"] if side == "yes" else market["no_ask"]
        sim.placed(ticker=market["ticker"], side=side, count=7 + index, **{f"{side}_price": price})
    first = markets[1]
    sim.placed(
        ticker=first["ticker"], side="yes", action="sell", count=3, yes_price=first["yes_bid"]
    )
    last = markets[-1]
    sim.placed(
        ticker=last["ticker"],
        side="yes",
        count=5,
        yes_price=last["yes_bid"],
        time_in_force="good_till_canceled",
    )


def _net_positions(fills: list[dict]) -> dict[str, int]:
    """Signed YES contracts per market implied by the fills (a NO contract counts -1)."""
    held: dict[str, int] = {}
    for fill in fills:
        sign = (1 if fill["side"] == "yes" else -1) * (1 if fill["action"] == "buy" else -1)
        held[fill["ticker"]] = held.get(fill["ticker"], 0) + sign * fill["count"]
    return held


def test_cash_is_conserved_to_the_cent_through_settlement(sim: SimClient) -> None:
    start = sim.balance()
    _trade_a_few_markets(sim)
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s + 1)

    fills = sim.get("/portfolio/fills", **_ALL)["fills"]
    settlements = sim.get("/portfolio/settlements", **_ALL)["settlements"]
    bought = sum(f["count"] * f[f"{f['side']}_price"] for f in fills if f["action"] == "buy")
    sold = sum(f["count"] * f[f"{f['side']}_price"] for f in fills if f["action"] == "sell")
    fees = sum(round(float(f["fee_cost"]) * 100) for f in fills)
    revenue = sum(s["revenue"] for s in settlements)
    held = _net_positions(fills)
    assert sim.balance() == start - bought + sold - fees + revenue

    assert sim.get("/portfolio/positions")["market_positions"] == []
    assert sim.get("/portfolio/balance")["portfolio_value"] == 0
    assert {s["ticker"] for s in settlements} == {t for t, n in held.items() if n}
    for settlement in settlements:
        contracts = held[settlement["ticker"]]
        result = sim.market(settlement["ticker"])["result"]
        assert settlement["market_result"] == result
        assert (settlement["yes_count"], settlement["no_count"]) == (
            max(contracts, 0),
            max(-contracts, 0),
        )
        won = settlement["yes_count"] if result == "yes" else settlement["no_count"]
        assert settlement["revenue"] == 100 * won
        assert settlement["value"] == (100 if result == "yes" else 0)
        assert settlement["fee_cost"] == "0.0000"


def test_settlement_follows_the_hidden_outcome(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.placed(ticker=market["ticker"], side="yes", count=3, yes_price=market["yes_ask"])
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    truth = sim.control(f"/markets/{market['ticker']}")
    assert truth["status"] == "settled"
    assert truth["true_probability"] == (1.0 if truth["result"] == "yes" else 0.0)
    (settlement,) = sim.get("/portfolio/settlements")["settlements"]
    assert settlement["market_result"] == truth["result"]
    assert settlement["revenue"] == (300 if truth["result"] == "yes" else 0)


def test_mutually_exclusive_brackets_settle_exactly_one_yes(sim: SimClient) -> None:
    settled = sim.all_markets(status="settled")
    by_event: dict[str, list[str]] = {}
    for market in settled:
        by_event.setdefault(market["event_ticker"], []).append(market["result"])
    weather = [results for event, results in by_event.items() if event.startswith("KXHIGH")]
    assert weather and all(results.count("yes") == 1 for results in weather)
