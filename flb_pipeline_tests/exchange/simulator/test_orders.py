"""V2 order entry and matching: fills against displayed depth, time in force, fees, price
grids, fractional counts, rejects, cancels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.ticks import LINEAR_CENT, TAPERED_DECI_CENT
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient

D = Decimal


def _yes_asks(sim: SimClient, ticker: str) -> list[tuple[Decimal, Decimal]]:
    """(YES ask, size) cheapest first: each NO bid at p is a YES ask at $1 - p."""
    levels = sim.get(f"/markets/{ticker}/orderbook")["orderbook_fp"]["no_dollars"]
    return sorted((1 - D(price), D(size)) for price, size in levels)


def _bid(sim: SimClient, market: dict, count: str, price: str, **fields) -> dict:
    return sim.placed(ticker=market["ticker"], side="bid", count=count, price=price, **fields)


def test_full_fill_at_the_ask(sim: SimClient) -> None:
    market = sim.two_sided()
    ask = market["yes_ask_dollars"]
    count = min(_yes_asks(sim, market["ticker"])[0][1], 5)
    order = _bid(sim, market, str(count), ask)
    assert (order["status"], order["book_side"], order["outcome_side"]) == (
        "executed",
        "bid",
        "yes",
    )
    assert (D(order["fill_count_fp"]), D(order["remaining_count_fp"])) == (count, 0)
    assert D(order["taker_fill_cost_dollars"]) == count * D(ask)
    assert "side" not in order and "yes_price" not in order, "legacy fields are gone"
    fills = sim.get("/portfolio/fills")["fills"]
    assert [(D(f["count_fp"]), f["yes_price_dollars"], f["is_taker"]) for f in fills] == [
        (count, ask, True)
    ]


def test_partial_fills_walk_the_levels_and_consume_depth(sim: SimClient) -> None:
    market = sim.two_sided(high="0.85", structure=LINEAR_CENT)
    ticker = market["ticker"]
    (best, first_size), (second, second_size) = _yes_asks(sim, ticker)[:2]
    count = first_size + second_size // 2
    order = _bid(sim, market, str(count), f"{second:.4f}")
    assert D(order["fill_count_fp"]) == count
    assert D(order["taker_fill_cost_dollars"]) == first_size * best + (count - first_size) * second
    fills = sim.get("/portfolio/fills", ticker=ticker)["fills"]
    assert sorted((D(f["yes_price_dollars"]), D(f["count_fp"])) for f in fills) == [
        (best, first_size),
        (second, count - first_size),
    ]
    assert _yes_asks(sim, ticker)[0] == (second, second_size - second_size // 2)
    assert D(sim.market(ticker)["yes_ask_dollars"]) == second


def test_immediate_or_cancel_remainder_is_canceled(sim: SimClient) -> None:
    market = sim.two_sided()
    depth_at_ask = _yes_asks(sim, market["ticker"])[0][1]
    order = _bid(sim, market, str(depth_at_ask + 50), market["yes_ask_dollars"])
    assert order["status"] == "canceled"
    assert (D(order["fill_count_fp"]), D(order["remaining_count_fp"])) == (depth_at_ask, 0)


def test_fill_or_kill_fills_all_or_nothing(sim: SimClient) -> None:
    market = sim.two_sided()
    depth_at_ask = _yes_asks(sim, market["ticker"])[0][1]
    balance = sim.balance()
    ask = market["yes_ask_dollars"]
    killed = _bid(sim, market, str(depth_at_ask + 1), ask, time_in_force="fill_or_kill")
    assert (killed["status"], D(killed["fill_count_fp"])) == ("canceled", 0)
    assert sim.balance() == balance
    filled = _bid(sim, market, str(depth_at_ask), ask, time_in_force="fill_or_kill")
    assert (filled["status"], D(filled["fill_count_fp"])) == ("executed", depth_at_ask)


def test_post_only_that_would_cross_is_rejected(sim: SimClient) -> None:
    market = sim.two_sided()
    crossing = sim.order(
        ticker=market["ticker"], side="bid", count="1", price=market["yes_ask_dollars"],
        post_only=True, time_in_force="good_till_canceled",
    )  # fmt: skip
    assert crossing.status_code == 400
    assert crossing.json()["error"]["code"] == "post_only_cross"
    passive = _bid(
        sim, market, "1", market["yes_bid_dollars"], post_only=True,
        time_in_force="good_till_canceled",
    )  # fmt: skip
    assert passive["status"] == "resting"


def test_duplicate_client_order_id_is_409_and_places_once(sim: SimClient) -> None:
    market = sim.two_sided()
    fields = {"ticker": market["ticker"], "side": "bid", "count": "1", "client_order_id": "dup-1"}
    first = sim.order(**fields, price=market["yes_ask_dollars"])
    again = sim.order(**fields, price=market["yes_ask_dollars"])
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_already_exists"
    assert len(sim.get("/portfolio/orders")["orders"]) == 1
    assert len(sim.get("/portfolio/fills")["fills"]) == 1


def test_resting_order_is_maker_filled_after_the_market_moves(sim: SimClient) -> None:
    candidates = [
        m
        for m in sim.all_markets(status="open")
        if D(m["yes_bid_dollars"]) >= D("0.10") and D(m["yes_ask_dollars"]) <= D("0.90")
    ]
    orders = {
        m["ticker"]: _bid(sim, m, "4", m["yes_bid_dollars"], time_in_force="good_till_canceled")
        for m in candidates
    }
    assert {o["status"] for o in orders.values()} == {"resting"}
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    maker_fills = [f for f in sim.get("/portfolio/fills", limit=1000)["fills"] if not f["is_taker"]]
    assert maker_fills
    for fill in maker_fills:
        placed = orders[fill["ticker"]]
        assert (D(fill["count_fp"]), fill["yes_price_dollars"]) == (4, placed["yes_price_dollars"])
        order = sim.get(f"/portfolio/orders/{placed['order_id']}")["order"]
        assert order["status"] == "executed"
        assert D(order["maker_fill_cost_dollars"]) == 4 * D(placed["yes_price_dollars"])
        assert _ask_low_when(sim, fill) <= D(placed["yes_price_dollars"])
    statuses = {o["status"] for o in sim.get("/portfolio/orders", limit=1000)["orders"]}
    assert statuses <= {"executed", "canceled"}


def _ask_low_when(sim: SimClient, fill: dict) -> Decimal:
    """Lowest YES ask of the one-minute candle in which `fill` happened."""
    series = fill["ticker"].split("-")[0]
    end = -(-fill["ts"] // 60) * 60
    candles = sim.get(
        f"/series/{series}/markets/{fill['ticker']}/candlesticks",
        start_ts=end,
        end_ts=end,
        period_interval=1,
    )["candlesticks"]
    return D(candles[0]["yes_ask"]["low_dollars"])


def test_cancel_returns_the_escrow(sim: SimClient) -> None:
    """Buying NO is an ask on the YES book; cancelling gives the escrow back."""
    market = sim.two_sided()
    balance = sim.balance()
    order = sim.placed(
        ticker=market["ticker"], side="ask", count="10", price=market["yes_ask_dollars"],
        time_in_force="good_till_canceled",
    )  # fmt: skip
    assert (order["status"], order["outcome_side"]) == ("resting", "no")
    assert sim.balance() < balance
    canceled = sim.http.delete(f"/portfolio/events/orders/{order['order_id']}").json()
    assert canceled["reduced_by"] == "10.00" and canceled["order_id"] == order["order_id"]
    assert sim.get(f"/portfolio/orders/{order['order_id']}")["order"]["status"] == "canceled"
    assert sim.balance() == balance
    assert sim.http.delete(f"/portfolio/events/orders/{order['order_id']}").status_code == 400
    assert sim.http.delete("/portfolio/events/orders/unknown").status_code == 404


def test_cancel_all_cancels_every_resting_order(sim: SimClient) -> None:
    markets = [m for m in sim.all_markets(status="open") if D(m["yes_bid_dollars"]) >= D("0.1")]
    for market in markets[:3]:
        _bid(sim, market, "2", market["yes_bid_dollars"], time_in_force="good_till_canceled")
    assert sim.control("/state")["resting_orders"] == 3
    assert sim.http.delete("/portfolio/events/orders").status_code == 204
    assert sim.control("/state")["resting_orders"] == 0


def test_batched_create_answers_each_order_on_its_own(sim: SimClient) -> None:
    market = sim.two_sided()
    good = {
        "ticker": market["ticker"], "side": "bid", "count": "1",
        "price": market["yes_ask_dollars"], "client_order_id": "b-1",
        "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross",
    }  # fmt: skip
    off_tick = good | {"client_order_id": "b-2", "price": "0.5005"}
    response = sim.http.post("/portfolio/events/orders/batched", json={"orders": [good, off_tick]})
    assert response.status_code == 201
    first, second = response.json()["orders"]
    assert first["client_order_id"] == "b-1" and first["fill_count"] == "1.00"
    assert second["error"]["code"] == "invalid_price" and "order_id" not in second


def _side_asking(sim: SimClient, price: str, structure: str) -> tuple[dict, str]:
    """Advance tick by tick until some open market on `structure`'s grid offers one side at
    exactly `price`."""
    for _ in range(120):
        for market in sim.all_markets(status="open"):
            if market["price_level_structure"] != structure:
                continue
            if market["yes_ask_dollars"] == price:
                return market, "yes"
            if market["no_ask_dollars"] == price:
                return market, "no"
        sim.advance(BASE_CONFIG.tick_s)
    raise AssertionError(f"no market offered {price}")


def _buy(sim: SimClient, market: dict, side: str, count: int, price: str) -> dict:
    return sim.buy(market, side, count, price)


@pytest.mark.parametrize("counts", [(1, 10, 100)])
def test_taker_fees_match_core_fees_at_95_cents(sim: SimClient, counts: tuple[int, ...]) -> None:
    sim.reset(level_size_min=300, level_size_max=400)
    market, side = _side_asking(sim, "0.9500", LINEAR_CENT)
    series = sim.get(f"/series/{market['event_ticker'].split('-')[0]}")["series"]
    schedule = FeeSchedule(series["fee_type"], D(series["fee_multiplier"]))
    for count in counts:
        order = _buy(sim, market, side, count, "0.95")
        assert D(order["fill_count_fp"]) == count
        assert D(order["taker_fill_cost_dollars"]) == D("0.95") * count
        assert D(order["taker_fees_dollars"]) == schedule.taker_fee(count, D("0.95"))
    fee_costs = [D(f["fee_cost"]) for f in sim.get("/portfolio/fills")["fills"]]
    assert sorted(fee_costs) == [D("0.01"), D("0.04"), D("0.34")]


def test_a_tapered_favourite_at_93_5_cents_pays_the_exact_fee(sim: SimClient) -> None:
    """Sub-cent prices where favourites trade: 7 contracts at $0.935 cost $6.545, and the
    fee is Kalshi's rounded one (the balance moves in whole cents)."""
    sim.reset(level_size_min=300, level_size_max=400)
    market, side = _side_asking(sim, "0.9350", TAPERED_DECI_CENT)
    balance = sim.balance()
    order = _buy(sim, market, side, 7, "0.935")
    fee = FeeSchedule("quadratic").taker_fee(7, D("0.935"))
    assert D(order["taker_fill_cost_dollars"]) == D("6.545")
    assert D(order["taker_fees_dollars"]) == fee
    assert sim.balance() == balance - D("6.545") - fee
    assert (sim.balance() * 100) % 1 == 0


def test_an_off_tick_price_is_refused_naming_the_grid(sim: SimClient) -> None:
    market = sim.two_sided(structure=LINEAR_CENT)
    response = sim.order(ticker=market["ticker"], side="bid", count="1", price="0.5050")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_price" and "linear_cent" in error["message"]


def test_fractional_counts_only_where_the_market_trades_fractions(sim: SimClient) -> None:
    markets = sim.all_markets(status="open")
    whole = next(m for m in markets if not m["fractional_trading_enabled"])
    fractional = next(
        m for m in markets if m["fractional_trading_enabled"] and m["yes_ask_dollars"] < "0.99"
    )
    refused = sim.order(
        ticker=whole["ticker"], side="bid", count="2.50", price=whole["yes_ask_dollars"]
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_count"
    order = _bid(sim, fractional, "2.50", fractional["yes_ask_dollars"])
    assert D(order["fill_count_fp"]) == D("2.50")
    (position,) = sim.get("/portfolio/positions")["market_positions"]
    assert position["position_fp"] == "2.50"


def test_insufficient_balance_is_rejected_without_side_effects(sim: SimClient) -> None:
    sim.reset(starting_balance_cents=500)
    market = sim.two_sided()
    response = sim.order(
        ticker=market["ticker"], side="bid", count="50", price=market["yes_ask_dollars"]
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "insufficient_balance"
    assert sim.balance() == D("5")
    assert sim.get("/portfolio/orders")["orders"] == []


def test_orders_on_closed_settled_or_unopened_markets_are_rejected(sim: SimClient) -> None:
    for status in ("settled", "unopened"):
        ticker = sim.get("/markets", status=status, limit=1)["markets"][0]["ticker"]
        response = sim.order(ticker=ticker, side="bid", count="1", price="0.5000")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "market_closed"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"price": "0"}, "invalid_price"),
        ({"price": "1.0000"}, "invalid_price"),
        ({"price": "0.95551"}, "invalid_price"),
        ({"price": 0.5}, "invalid_parameters"),
        ({"price": "0.5000", "count": "0"}, "invalid_count"),
        ({"price": "0.5000", "count": "1.234"}, "invalid_count"),
        ({"price": "0.5000", "count": 1}, "invalid_parameters"),
        ({"price": "0.5000", "side": "yes"}, "invalid_parameters"),
        ({"price": "0.5000", "time_in_force": "day"}, "invalid_parameters"),
    ],
)
def test_invalid_orders_are_400(sim: SimClient, fields: dict, code: str) -> None:
    ticker = sim.two_sided()["ticker"]
    response = sim.order(**({"ticker": ticker, "side": "bid", "count": "1"} | fields))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_unknown_ticker_is_404(sim: SimClient) -> None:
    response = sim.order(ticker="KXNOPE-1", side="bid", count="1", price="0.5000")
    assert response.status_code == 404


def test_the_legacy_order_endpoints_are_gone(sim: SimClient) -> None:
    """Kalshi's spec no longer has them: a client still using them gets a 404."""
    ticker = sim.two_sided()["ticker"]
    legacy = {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 50}
    assert sim.http.post("/portfolio/orders", json=legacy).status_code == 404
    assert sim.http.delete("/portfolio/orders/any").status_code == 404


def test_selling_yes_is_an_ask_and_closes_the_position(sim: SimClient) -> None:
    market = sim.two_sided()
    ticker, ask, bid = market["ticker"], D(market["yes_ask_dollars"]), D(market["yes_bid_dollars"])
    balance = sim.balance()
    bought = _bid(sim, market, "5", f"{ask:.4f}")
    sold = sim.placed(ticker=ticker, side="ask", count="5", price=f"{bid:.4f}")
    assert D(bought["fill_count_fp"]) == D(sold["fill_count_fp"]) == 5
    assert sim.get("/portfolio/positions")["market_positions"] == []
    fees = D(bought["taker_fees_dollars"]) + D(sold["taker_fees_dollars"])
    assert sim.balance() == balance - 5 * ask + 5 * bid - fees


def test_buying_the_other_side_nets_the_position(sim: SimClient) -> None:
    market = sim.two_sided(structure=LINEAR_CENT)
    ticker, yes_ask = market["ticker"], D(market["yes_ask_dollars"])
    no_ask = D(market["no_ask_dollars"])
    _bid(sim, market, "6", f"{yes_ask:.4f}")
    sim.placed(ticker=ticker, side="ask", count="2", price=f"{1 - no_ask:.4f}")
    (position,) = sim.get("/portfolio/positions")["market_positions"]
    assert D(position["position_fp"]) == 4
    assert D(position["market_exposure_dollars"]) == 4 * yes_ask
    assert D(position["realized_pnl_dollars"]) == 2 * (1 - no_ask - yes_ask)
