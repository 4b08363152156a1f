"""Settlement and the cash ledger: balance, positions and settlements agree to the cent."""

from __future__ import annotations

from decimal import Decimal

from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient

_ALL = {"limit": 1000}
D = Decimal


def _trade_a_few_markets(sim: SimClient) -> None:
    """Buys on both sides (YES is a bid, NO an ask on the YES book), a partial close by
    selling YES, a fractional buy and a resting order."""
    markets = [
        m
        for m in sim.all_markets(status="open")
        if D("0.05") <= D(m["yes_bid_dollars"]) < D(m["yes_ask_dollars"]) <= D("0.95")
    ]
    for index, market in enumerate(markets[:8]):
        side = "yes" if index % 2 else "no"
        sim.buy(market, side, 7 + index, market[f"{side}_ask_dollars"])
    first = markets[1]
    sim.placed(ticker=first["ticker"], side="ask", count="3", price=first["yes_bid_dollars"])
    fractional = next(m for m in markets if m["fractional_trading_enabled"])
    sim.placed(
        ticker=fractional["ticker"], side="bid", count="1.25", price=fractional["yes_ask_dollars"]
    )
    last = markets[-1]
    sim.placed(
        ticker=last["ticker"], side="bid", count="5", price=last["yes_bid_dollars"],
        time_in_force="good_till_canceled",
    )  # fmt: skip


def _net_positions(fills: list[dict]) -> dict[str, Decimal]:
    """Signed YES contracts per market implied by the fills: a bid buys YES (+), an ask
    buys NO (-)."""
    held: dict[str, Decimal] = {}
    for fill in fills:
        sign = 1 if fill["book_side"] == "bid" else -1
        held[fill["ticker"]] = held.get(fill["ticker"], D(0)) + sign * D(fill["count_fp"])
    return held


def test_cash_is_conserved_to_the_cent_through_settlement(sim: SimClient) -> None:
    start = sim.balance()
    _trade_a_few_markets(sim)
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s + 1)

    fills = sim.get("/portfolio/fills", **_ALL)["fills"]
    settlements = sim.get("/portfolio/settlements", **_ALL)["settlements"]
    cost = sum(D(f["count_fp"]) * D(f[f"{f['outcome_side']}_price_dollars"]) for f in fills)
    paired = _pairs_netted(fills)
    fees = sum(D(f["fee_cost"]) for f in fills)
    revenue = sum(D(s["revenue"]) / 100 for s in settlements)
    held = _net_positions(fills)
    assert sim.balance() == start - cost + paired - fees + revenue
    assert (sim.balance() * 100) % 1 == 0

    assert sim.get("/portfolio/positions")["market_positions"] == []
    assert sim.get("/portfolio/balance")["portfolio_value"] == 0
    assert {s["ticker"] for s in settlements} == {t for t, n in held.items() if n}
    for settlement in settlements:
        contracts = held[settlement["ticker"]]
        result = sim.market(settlement["ticker"])["result"]
        assert settlement["market_result"] == result
        assert (D(settlement["yes_count_fp"]), D(settlement["no_count_fp"])) == (
            max(contracts, D(0)),
            max(-contracts, D(0)),
        )
        won = settlement["yes_count_fp"] if result == "yes" else settlement["no_count_fp"]
        assert settlement["revenue"] == 100 * D(won)
        assert settlement["value"] == (100 if result == "yes" else 0)
        assert settlement["fee_cost"] == "0.0000"


def test_settlement_follows_the_hidden_outcome(sim: SimClient) -> None:
    market = sim.two_sided()
    sim.buy(market, "yes", 3, market["yes_ask_dollars"])
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    truth = sim.control(f"/markets/{market['ticker']}")
    assert truth["status"] in ("determined", "finalized")
    assert truth["true_probability"] == (1.0 if truth["result"] == "yes" else 0.0)
    (settlement,) = sim.get("/portfolio/settlements")["settlements"]
    assert settlement["market_result"] == truth["result"]
    assert settlement["revenue"] == (300 if truth["result"] == "yes" else 0)


def _pairs_netted(fills: list[dict]) -> Decimal:
    """$1 comes back for every YES/NO pair a fill nets away, in fill order per market."""
    held: dict[str, Decimal] = {}
    refunded = D(0)
    for fill in sorted(fills, key=lambda f: (f["created_time"], f["fill_id"])):
        count = D(fill["count_fp"])
        sign = 1 if fill["book_side"] == "bid" else -1
        before = held.get(fill["ticker"], D(0))
        if before * sign < 0:
            refunded += min(count, abs(before))
        held[fill["ticker"]] = before + sign * count
    return refunded


def test_mutually_exclusive_brackets_settle_exactly_one_yes(sim: SimClient) -> None:
    settled = sim.settled_markets()
    by_event: dict[str, list[str]] = {}
    for market in settled:
        by_event.setdefault(market["event_ticker"], []).append(market["result"])
    weather = [results for event, results in by_event.items() if event.startswith("KXHIGH")]
    assert weather and all(results.count("yes") == 1 for results in weather)
