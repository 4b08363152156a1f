"""Order entry and matching: fills against displayed depth, time in force, fees, rejects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient


def _best_no_bids(sim: SimClient, ticker: str) -> list[list[int]]:
    """NO bids best first: each is a YES ask at 100 - price."""
    return sorted(sim.book(ticker)["no"], reverse=True)


def test_full_fill_at_the_ask(sim: SimClient) -> None:
    market = sim.two_sided()
    level_size = _best_no_bids(sim, market["ticker"])[0][1]
    count = min(level_size, 5)
    order = sim.placed(
        ticker=market["ticker"], side="yes", count=count, yes_price=market["yes_ask"]
    )
    assert order["status"] == "executed"
    assert (order["fill_count"], order["remaining_count"]) == (count, 0)
    assert order["taker_fill_cost"] == count * market["yes_ask"]
    fills = sim.get("/portfolio/fills")["fills"]
    assert [(f["count"], f["yes_price"], f["is_taker"]) for f in fills] == [
        (count, market["yes_ask"], True)
    ]


def test_partial_fills_walk_the_levels_and_consume_depth(sim: SimClient) -> None:
    market = sim.two_sided(high=85)
    ticker = market["ticker"]
    (best, first_size), (second, second_size) = _best_no_bids(sim, ticker)[:2]
    count = first_size + second_size // 2
    order = sim.placed(ticker=ticker, side="yes", count=count, yes_price=100 - second)
    assert order["fill_count"] == count
    assert order["taker_fill_cost"] == first_size * (100 - best) + (count - first_size) * (
        100 - second
    )
    fills = sim.get("/portfolio/fills", ticker=ticker)["fills"]
    assert sorted((f["yes_price"], f["count"]) for f in fills) == [
        (100 - best, first_size),
        (100 - second, count - first_size),
    ]
    assert _best_no_bids(sim, ticker)[0] == [second, second_size - second_size // 2]
    assert sim.market(ticker)["yes_ask"] == 100 - second


def test_immediate_or_cancel_remainder_is_canceled(sim: SimClient) -> None:
    market = sim.two_sided()
    depth_at_ask = _best_no_bids(sim, market["ticker"])[0][1]
    order = sim.placed(
        ticker=market["ticker"], side="yes", count=depth_at_ask + 50, yes_price=market["yes_ask"]
    )
    assert order["status"] == "canceled"
    assert (order["fill_count"], order["remaining_count"]) == (depth_at_ask, 0)


def test_fill_or_kill_fills_all_or_nothing(sim: SimClient) -> None:
    market = sim.two_sided()
    depth_at_ask = _best_no_bids(sim, market["ticker"])[0][1]
    balance = sim.balance()
    killed = sim.placed(
        ticker=market["ticker"],
        side="yes",
        count=depth_at_ask + 1,
        yes_price=market["yes_ask"],
        time_in_force="fill_or_kill",
    )
    assert (killed["status"], killed["fill_count"]) == ("canceled", 0)
    assert sim.balance() == balance
    filled = sim.placed(
        ticker=market["ticker"],
        side="yes",
        count=depth_at_ask,
        yes_price=market["yes_ask"],
        time_in_force="fill_or_kill",
    )
    assert (filled["status"], filled["fill_count"]) == ("executed", depth_at_ask)


def test_post_only_that_would_cross_is_rejected(sim: SimClient) -> None:
    market = sim.two_sided()
    crossing = sim.order(
        ticker=market["ticker"],
        side="yes",
        count=1,
        yes_price=market["yes_ask"],
        post_only=True,
        time_in_force="good_till_canceled",
    )
    assert crossing.status_code == 400
    assert crossing.json()["error"]["code"] == "post_only_cross"
    passive = sim.placed(
        ticker=market["ticker"],
        side="yes",
        count=1,
        yes_price=market["yes_bid"],
        post_only=True,
        time_in_force="good_till_canceled",
    )
    assert passive["status"] == "resting"


def test_duplicate_client_order_id_is_409_and_places_once(sim: SimClient) -> None:
    market = sim.two_sided()
    fields = {"ticker": market["ticker"], "side": "yes", "count": 1, "client_order_id": "dup-1"}
    first = sim.order(**fields, yes_price=market["yes_ask"])
    again = sim.order(**fields, yes_price=market["yes_ask"])
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_already_exists"
    assert len(sim.get("/portfolio/orders")["orders"]) == 1
    assert len(sim.get("/portfolio/fills")["fills"]) == 1


def test_resting_order_is_maker_filled_after_the_market_moves(sim: SimClient) -> None:
    candidates = [
        m for m in sim.all_markets(status="open") if m["yes_bid"] >= 10 and m["yes_ask"] <= 90
    ]
    orders = {
        m["ticker"]: sim.placed(
            ticker=m["ticker"],
            side="yes",
            count=4,
            yes_price=m["yes_bid"],
            time_in_force="good_till_canceled",
        )
        for m in candidates
    }
    assert {o["status"] for o in orders.values()} == {"resting"}
    sim.advance(BASE_CONFIG.market_lifetime_s + BASE_CONFIG.settle_delay_s)
    maker_fills = [f for f in sim.get("/portfolio/fills", limit=1000)["fills"] if not f["is_taker"]]
    assert maker_fills
    for fill in maker_fills:
        placed = orders[fill["ticker"]]
        assert (fill["count"], fill["yes_price"]) == (4, placed["yes_price"])
        order = sim.get(f"/portfolio/orders/{placed['order_id']}")["order"]
        assert order["status"] == "executed"
        assert order["maker_fill_cost"] == 4 * placed["yes_price"]
        assert _ask_low_when(sim, fill) <= placed["yes_price"]
    statuses = {o["status"] for o in sim.get("/portfolio/orders", limit=1000)["orders"]}
    assert statuses <= {"executed", "canceled"}


def _ask_low_when(sim: SimClient, fill: dict) -> int:
    """Lowest YES ask of the one-minute candle in which `fill` happened."""
    series = fill["ticker"].split("-")[0]
    end = -(-fill["ts"] // 60) * 60
    candles = sim.get(
        f"/series/{series}/markets/{fill['ticker']}/candlesticks",
        start_ts=end,
        end_ts=end,
        period_interval=1,
    )["candlesticks"]
    return candles[0]["yes_ask"]["low"]


def test_cancel_returns_the_escrow(sim: SimClient) -> None:
    market = sim.two_sided()
    balance = sim.balance()
    order = sim.placed(
        ticker=market["ticker"],
        side="no",
        count=10,
        no_price=100 - market["yes_ask"],
        time_in_force="good_till_canceled",
    )
    assert order["status"] == "resting" and sim.balance() < balance
    canceled = sim.http.delete(f"/portfolio/orders/{order['order_id']}").json()
    assert canceled["order"]["status"] == "canceled" and canceled["reduced_by"] == 10
    assert sim.balance() == balance
    assert sim.http.delete(f"/portfolio/orders/{order['order_id']}").status_code == 400
    assert sim.http.delete("/portfolio/orders/unknown").status_code == 404


def _side_asking(sim: SimClient, price: int) -> tuple[dict, str]:
    """Advance tick by tick until some open market offers one side at exactly `price`."""
    for _ in range(60):
        for market in sim.all_markets(status="open"):
            if market["yes_ask"] == price:
                return market, "yes"
            if market["no_ask"] == price:
                return market, "no"
        sim.advance(BASE_CONFIG.tick_s)
    raise AssertionError(f"no market offered {price} cents")


@pytest.mark.parametrize("counts", [(1, 10, 100)])
def test_taker_fees_match_core_fees_at_95_cents(sim: SimClient, counts: tuple[int, ...]) -> None:
    sim.reset(level_size_min=300, level_size_max=400)
    market, side = _side_asking(sim, 95)
    series = sim.get(f"/series/{market['event_ticker'].split('-')[0]}")["series"]
    schedule = FeeSchedule(series["fee_type"], Decimal(series["fee_multiplier"]))
    charged = []
    for count in counts:
        order = sim.placed(ticker=market["ticker"], side=side, count=count, **{f"{side}_price": 95})
        assert order["fill_count"] == count and order["taker_fill_cost"] == 95 * count
        charged.append(order["taker_fees"])
        expected = schedule.taker_fee(count, Decimal("0.95"))
        assert Decimal(order["taker_fees_dollars"]) == expected
    assert charged == [1, 4, 34]
    fee_costs = [Decimal(f["fee_cost"]) for f in sim.get("/portfolio/fills")["fills"]]
    assert sorted(fee_costs) == [Decimal("0.01"), Decimal("0.04"), Decimal("0.34")]


def test_insufficient_balance_is_rejected_without_side_effects(sim: SimClient) -> None:
    sim.reset(starting_balance_cents=500)
    market = sim.two_sided()
    response = sim.order(ticker=market["ticker"], side="yes", count=50, yes_price=market["yes_ask"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "insufficient_balance"
    assert sim.balance() == 500
    assert sim.get("/portfolio/orders")["orders"] == []


def test_orders_on_closed_settled_or_unopened_markets_are_rejected(sim: SimClient) -> None:
    for status in ("settled", "unopened"):
        ticker = sim.get("/markets", status=status, limit=1)["markets"][0]["ticker"]
        response = sim.order(ticker=ticker, side="yes", count=1, yes_price=50)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "market_closed"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"yes_price": 0}, "invalid_price"),
        ({"yes_price": 100}, "invalid_price"),
        ({"yes_price_dollars": "0.955"}, "invalid_price"),
        ({}, "invalid_price"),
        ({"yes_price": 50, "no_price": 50}, "invalid_price"),
        ({"yes_price": 50, "count": 0}, "invalid_count"),
        ({"yes_price": 50, "side": "maybe"}, "invalid_parameters"),
    ],
)
def test_invalid_orders_are_400(sim: SimClient, fields: dict, code: str) -> None:
    ticker = sim.two_sided()["ticker"]
    response = sim.order(**({"ticker": ticker, "side": "yes", "count": 1} | fields))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_unknown_ticker_is_404(sim: SimClient) -> None:
    assert sim.order(ticker="KXNOPE-1", side="yes", count=1, yes_price=50).status_code == 404


def test_dollar_prices_and_selling_closes_the_position(sim: SimClient) -> None:
    market = sim.two_sided()
    ticker, ask, bid = market["ticker"], market["yes_ask"], market["yes_bid"]
    balance = sim.balance()
    bought = sim.placed(ticker=ticker, side="yes", count=5, yes_price_dollars=f"{ask / 100:.4f}")
    sold = sim.placed(ticker=ticker, side="yes", action="sell", count=5, yes_price=bid)
    assert bought["fill_count"] == sold["fill_count"] == 5
    assert sim.get("/portfolio/positions")["market_positions"] == []
    fees = bought["taker_fees"] + sold["taker_fees"]
    assert sim.balance() == balance - 5 * ask + 5 * bid - fees


def test_buying_the_other_side_nets_the_position(sim: SimClient) -> None:
    market = sim.two_sided()
    ticker = market["ticker"]
    sim.placed(ticker=ticker, side="yes", count=6, yes_price=market["yes_ask"])
    sim.placed(ticker=ticker, side="no", count=2, no_price=market["no_ask"])
    (position,) = sim.get("/portfolio/positions")["market_positions"]
    assert position["position"] == 4
    assert position["market_exposure"] == 4 * market["yes_ask"]
    assert position["realized_pnl"] == 2 * (100 - market["no_ask"] - market["yes_ask"])
