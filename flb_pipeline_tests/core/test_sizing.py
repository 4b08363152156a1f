from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.sizing import (
    GROUP_CAP,
    KELLY,
    POSITION_CAP,
    TOTAL_CAP,
    ExposureBook,
    ExposureCaps,
    Holding,
    SizingRequest,
    kelly_contracts,
    kelly_fraction,
    order_cost,
    proposed_holding,
    size_order,
    worst_case_loss,
)

D = Decimal
SCHEDULE = FeeSchedule()
CAPS = ExposureCaps()


def request(q: float, price: str, *, ticker="T1", event="E1", group="G1", side="yes", depth=None):
    """A buy at `price` whose side is bid two cents lower."""
    bid = D(price) - D("0.02")
    return SizingRequest(ticker, event, group, side, D(price), q, SCHEDULE, depth, bid)


def test_kelly_fraction_of_a_binary():
    assert kelly_fraction(0.97, 0.95) == pytest.approx(0.4)
    assert kelly_fraction(0.9, 0.95) == 0.0


def test_kelly_contracts_uses_the_fee_inclusive_price():
    # q=0.97 at 95c on $10k: without fees f* = 0.4 and a quarter is $1000 (1052 contracts);
    # the fee lifts the price to 0.95 + 3.12/936 = 0.95333, f* = 0.35714: $892.86 buys 936.
    contracts = kelly_contracts(0.97, D("0.95"), SCHEDULE, D(10_000), 0.25)
    cost = order_cost(SCHEDULE, contracts, D("0.95"))
    p_eff = float(cost) / contracts
    assert float(cost) <= 0.25 * kelly_fraction(0.97, p_eff) * 10_000
    next_cost = order_cost(SCHEDULE, contracts + 1, D("0.95"))
    assert (
        float(next_cost) > 0.25 * kelly_fraction(0.97, float(next_cost) / (contracts + 1)) * 10_000
    )
    assert contracts == 936


def test_zero_edge_gives_zero_size():
    assert kelly_contracts(0.95, D("0.95"), SCHEDULE, D(10_000), 0.25) == 0
    fee_per_contract = float(SCHEDULE.taker_fee(1000, D("0.95"))) / 1000
    assert kelly_contracts(0.95 + fee_per_contract, D("0.95"), SCHEDULE, D(10_000), 0.25) == 0


def test_mutually_exclusive_brackets_lose_at_most_one_no_leg():
    legs = [Holding(f"B{i}", "E", "G", "no", 100, D("95.34")) for i in range(5)]
    # one bracket wins: 5 x 95.34 paid, the four other NOs pay $100 each back.
    assert worst_case_loss(legs, frozenset({"E"})) == D("76.70")
    assert worst_case_loss(legs, frozenset()) == D("476.70")


def test_yes_on_two_exclusive_brackets_loses_both_when_a_third_wins():
    legs = [Holding("A", "E", "G", "yes", 10, D("9")), Holding("B", "E", "G", "yes", 10, D("1"))]
    assert worst_case_loss(legs, frozenset({"E"})) == D("10")


def test_caps_bind_in_order_position_group_total():
    capital = D(10_000)
    rich = request(0.99, "0.90")
    sizing = size_order(rich, ExposureBook(), capital, CAPS, 0.25)
    assert sizing.binding_cap == POSITION_CAP
    # 5% of the capital left once the order is marked to the bid: cost <= 0.05 (10000 - loss)
    marked = capital - rich.mark_loss(sizing.contracts)
    assert sizing.cost <= D("0.05") * marked
    one_more = order_cost(SCHEDULE, sizing.contracts + 1, D("0.90"))
    assert one_more > D("0.05") * (capital - rich.mark_loss(sizing.contracts + 1))
    assert D(490) < sizing.cost < D(500)

    crowded_group = ExposureBook((Holding("X", "EX", "G1", "yes", 1400, D(1400)),))
    assert size_order(rich, crowded_group, capital, CAPS, 0.25).binding_cap == GROUP_CAP

    crowded_total = ExposureBook(
        tuple(Holding(f"X{i}", f"E{i}", f"G{i}", "yes", 490, D(490)) for i in range(4))
    )
    sizing = size_order(rich, crowded_total, capital, CAPS, 0.25)
    assert sizing.binding_cap == TOTAL_CAP and sizing.cost <= D(40)
    assert D(1960) + sizing.cost <= D("0.20") * (capital - rich.mark_loss(sizing.contracts))

    small = size_order(request(0.952, "0.95"), ExposureBook(), capital, CAPS, 0.25)
    assert small.binding_cap == KELLY


def test_mark_loss_is_what_the_spread_and_fee_take_at_once():
    order = request(0.97, "0.90")  # bid 0.88
    assert order.mark_loss(100) == D("90") + SCHEDULE.taker_fee(100, D("0.90")) - D("88")


def test_depth_trims_last():
    sizing = size_order(request(0.99, "0.90", depth=7), ExposureBook(), D(10_000), CAPS, 0.25)
    assert (sizing.contracts, sizing.binding_cap) == (7, "depth")
    assert sizing.fee == SCHEDULE.taker_fee(7, D("0.90"))


prices = st.integers(min_value=50, max_value=98).map(lambda c: D(c) / 100)
edges = st.floats(min_value=-0.05, max_value=0.09)
capitals = st.integers(min_value=100, max_value=200_000).map(D)
existing = st.lists(
    st.tuples(
        st.sampled_from(["T1", "T2", "T3", "T4"]),
        st.sampled_from(["E1", "E2"]),
        st.sampled_from(["G1", "G2"]),
        st.sampled_from(["yes", "no"]),
        st.integers(min_value=1, max_value=400),
    ),
    max_size=6,
)


def _book(rows) -> ExposureBook:
    holdings = tuple(Holding(t, e, g, s, n, D(n) * D("0.9")) for t, e, g, s, n in rows)
    return ExposureBook(holdings, frozenset({"E1"}))


@settings(max_examples=200, deadline=None)
@given(price=prices, edge=edges, capital=capitals, rows=existing)
def test_no_cap_is_ever_exceeded(price, edge, capital, rows):
    book = _book(rows)
    q = min(0.999, float(price) + edge)
    req = request(q, str(price))
    sizing = size_order(req, book, capital, CAPS, 0.25)
    if sizing.contracts == 0:
        return
    after = book.with_holding(proposed_holding(req, sizing.contracts))
    assert after.position_exposure("T1") <= CAPS.position_fraction * capital
    assert after.group_exposure("G1") <= CAPS.group_fraction * capital
    assert after.total_exposure() <= CAPS.total_fraction * capital
    assert sizing.contracts <= sizing.kelly_contracts


@settings(max_examples=200, deadline=None)
@given(price=prices, low=edges, extra=st.floats(min_value=0, max_value=0.05), capital=capitals)
def test_size_is_monotone_in_edge(price, low, extra, capital):
    q_low = min(0.999, float(price) + low)
    q_high = min(0.999, q_low + extra)
    small = size_order(request(q_low, str(price)), ExposureBook(), capital, CAPS, 0.25)
    large = size_order(request(q_high, str(price)), ExposureBook(), capital, CAPS, 0.25)
    assert small.contracts <= large.contracts


@settings(max_examples=200, deadline=None)
@given(price=prices, capital=capitals, shortfall=st.floats(min_value=0, max_value=0.2))
def test_no_edge_after_fee_means_no_size(price, capital, shortfall):
    q = float(price) - shortfall
    assert size_order(request(q, str(price)), ExposureBook(), capital, CAPS, 0.25).contracts == 0


@settings(max_examples=200, deadline=None)
@given(price=prices, edge=st.floats(min_value=0.001, max_value=0.09), capital=capitals)
def test_fee_is_included_in_cost_and_stake(price, edge, capital):
    q = min(0.999, float(price) + edge)
    sizing = size_order(request(q, str(price)), ExposureBook(), capital, CAPS, 0.25)
    if sizing.contracts == 0:
        return
    assert sizing.fee == SCHEDULE.taker_fee(sizing.contracts, price) > 0
    assert sizing.cost == sizing.contracts * price + sizing.fee
    p_eff = float(sizing.cost) / sizing.contracts
    assert float(sizing.cost) <= 0.25 * kelly_fraction(q, p_eff) * float(capital) + 1e-6


def _fits_every_cap(req, book, capital, caps, contracts):
    """The caps as first defined: the book with the order in it, every cap re-measured."""
    with_order = book.with_holding(proposed_holding(req, contracts))
    room = capital - req.mark_loss(contracts)
    return (
        with_order.position_exposure(req.ticker) <= caps.position_fraction * room
        and with_order.group_exposure(req.group_id) <= caps.group_fraction * room
        and with_order.total_exposure() <= caps.total_fraction * room
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["T1", "T2", "T3", "T4"]),
            st.sampled_from(["yes", "no"]),
            st.integers(1, 400),
            st.sampled_from(["G1", "G2"]),
        ),
        max_size=8,
    ),
    st.sampled_from(["T1", "T2", "T5"]),
    st.booleans(),
)
def test_caps_measured_per_event_equal_the_book_with_the_order(held, ticker, exclusive):
    """Sizing measures only the order's own event per probe; the count it finds is still the
    largest one the whole book with the order in it allows."""
    event_of = {"T1": "E1", "T2": "E1", "T3": "E2", "T4": "E3", "T5": "E1"}
    holdings = tuple(
        Holding(t, event_of[t], group, side, n, D(n) * D("0.9")) for t, side, n, group in held
    )
    book = ExposureBook(holdings, frozenset({"E1"}) if exclusive else frozenset())
    req = request(0.99, "0.90", ticker=ticker, event=event_of[ticker], side="no")
    capital = D(20_000)
    sized = size_order(req, book, capital, CAPS, 1.0)
    wanted = max(sized.kelly_contracts - book.held_contracts(ticker, "no"), 0)
    assert sized.contracts == 0 or _fits_every_cap(req, book, capital, CAPS, sized.contracts)
    if sized.contracts < wanted:
        assert not _fits_every_cap(req, book, capital, CAPS, sized.contracts + 1)
