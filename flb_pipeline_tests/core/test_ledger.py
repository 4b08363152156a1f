from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.ledger import (
    OrderContext,
    build_ledger,
    net_contracts,
    paper_settlement,
    position_mismatches,
    slippage_bps,
    with_fees,
)
from flb_pipeline.core.records import Fill, Settlement

D = Decimal
T0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def fill(fill_id, order_id, ticker, side, contracts, price, fee, minutes, action="buy"):
    return Fill(
        fill_id, order_id, f"c-{order_id}", ticker, side, action, contracts, D(price), D(fee),
        True, T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def settle(ticker, result, minutes):
    return Settlement(ticker, "E", result, 0, 0, D(0), D(0), D(0), T0 + timedelta(minutes=minutes))


def context(order_id, decision, q=0.95, family="weather", group="weather_newyork"):
    return OrderContext(f"c-{order_id}", "scan-1", "wpm-1", "thr-1", D(decision), q, family, group)


CONTEXTS = {f"c-{o}": context(o, d) for o, d in [("o1", "0.95"), ("o2", "0.90"), ("o3", "0.88")]}


def test_a_winning_favourite_pays_one_dollar_less_cost_and_entry_fee():
    fills = [fill("f1", "o1", "A", "yes", 100, "0.95", "0.34", 0)]
    ledger = build_ledger(fills, CONTEXTS, [settle("A", "yes", 30)])
    (trade,) = ledger.closed_trades
    assert ledger.open_lots == []
    assert (trade.gross_pnl, trade.fees, trade.net_pnl) == (D("5.00"), D("0.34"), D("4.66"))
    assert trade.result == "win" and trade.holding_period_s == 1800
    assert trade.model_id == "wpm-1" and trade.scan_id == "scan-1"


def test_a_losing_no_position_loses_cost_and_fees():
    fills = [fill("f2", "o2", "B", "no", 10, "0.90", "0.07", 0)]
    (trade,) = build_ledger(fills, CONTEXTS, [settle("B", "yes", 5)]).closed_trades
    assert (trade.gross_pnl, trade.net_pnl, trade.result) == (D("-9.00"), D("-9.07"), "loss")


def test_fills_of_one_order_form_one_lot_with_exact_vwap_and_slippage():
    fills = [
        fill("f3", "o3", "C", "yes", 60, "0.88", "0.45", 0),
        fill("f4", "o3", "C", "yes", 40, "0.89", "0.29", 0),
    ]
    ledger = build_ledger(fills, CONTEXTS, [])
    (lot,) = ledger.open_lots
    assert (lot.contracts, lot.cost, lot.fees) == (100, D("88.40"), D("0.74"))
    assert lot.entry_price == D("0.8840")
    assert abs(slippage_bps(lot.cost / lot.contracts, D("0.88")) - 45.4545) < 1e-3


def test_sale_closes_fifo_and_charges_the_exit_fee():
    fills = [
        fill("f5", "o1", "A", "yes", 100, "0.95", "0.34", 0),
        fill("f6", "o9", "A", "yes", 30, "0.97", "0.03", 10, action="sell"),
    ]
    ledger = build_ledger(fills, CONTEXTS, [settle("A", "no", 20)])
    sold, settled = ledger.closed_trades
    assert (sold.contracts, sold.cost, sold.fees) == (30, D("28.5000"), D("0.1320"))
    assert sold.gross_pnl == D("29.10") - D("28.5000") and sold.close_kind == "sale"
    assert (settled.contracts, settled.cost, settled.fees) == (70, D("66.5000"), D("0.2380"))
    assert settled.net_pnl == D("-66.7380")
    total_fees = sold.fees + settled.fees
    assert total_fees == D("0.34") + D("0.03")


def test_void_refunds_cost_and_keeps_fees():
    fills = [fill("f7", "o1", "A", "yes", 10, "0.95", "0.04", 0)]
    (trade,) = build_ledger(fills, CONTEXTS, [settle("A", "void", 1)]).closed_trades
    assert (trade.gross_pnl, trade.net_pnl, trade.result) == (D(0), D("-0.04"), "void")


def test_replay_is_idempotent_and_order_independent():
    fills = [
        fill("f1", "o1", "A", "yes", 100, "0.95", "0.34", 0),
        fill("f2", "o2", "B", "no", 10, "0.90", "0.07", 1),
    ]
    settlements = [settle("A", "yes", 30), settle("B", "no", 31)]
    first = build_ledger(fills, CONTEXTS, settlements)
    second = build_ledger(list(reversed(fills)), CONTEXTS, list(reversed(settlements)))
    assert first == second
    assert [t.trade_id for t in first.closed_trades] == [
        f"o1:settlement:{(T0 + timedelta(minutes=30)).isoformat()}",
        f"o2:settlement:{(T0 + timedelta(minutes=31)).isoformat()}",
    ]


def test_fills_without_our_order_still_count_but_carry_no_model():
    fills = [fill("f8", "manual", "Z", "yes", 1, "0.50", "0.02", 0)]
    (trade,) = build_ledger(fills, CONTEXTS, [settle("Z", "yes", 1)]).closed_trades
    assert trade.model_id is None and trade.slippage_bps is None
    assert trade.net_pnl == D("0.48")


def test_with_fees_computes_missing_fees_per_order_through_the_accumulator():
    unreported = [
        replace(fill("f2", "o1", "A", "yes", 30, "0.91", "0", 1), fee=None),
        replace(fill("f1", "o1", "A", "yes", 30, "0.90", "0", 0), fee=None),
        fill("f3", "o2", "B", "no", 10, "0.90", "0.07", 2),
    ]
    fees = {f.fill_id: f.fee for f in with_fees(unreported, lambda ticker: FeeSchedule())}
    assert fees == {"f1": D("0.19"), "f2": D("0.18"), "f3": D("0.07")}


def test_net_contracts_are_yes_positive_and_no_negative():
    fills = [
        fill("f1", "o1", "A", "yes", 10, "0.95", "0.01", 0),
        fill("f2", "o2", "B", "no", 5, "0.90", "0.01", 1),
    ]
    assert net_contracts(build_ledger(fills, CONTEXTS, []).open_lots) == {"A": 10, "B": -5}


def test_position_mismatches_name_every_market_where_we_and_the_exchange_differ():
    ours = {"A": 10, "B": -5}
    theirs = {"A": 10, "B": -4, "C": 3}
    assert position_mismatches(ours, theirs) == [("B", -5, -4), ("C", 0, 3)]
    assert position_mismatches(ours, ours) == []


def test_paper_settlement_pays_a_dollar_per_winning_contract_and_no_fee():
    lots = [("yes", 10, D("9.50")), ("yes", 5, D("4.70")), ("no", 3, D("0.30"))]
    settled = paper_settlement("A", lots, "yes", T0)
    assert (settled.yes_contracts, settled.no_contracts) == (15, 3)
    assert (settled.yes_total_cost, settled.no_total_cost) == (D("14.20"), D("0.30"))
    assert settled.revenue == D(15)
    assert paper_settlement("A", lots, "no", T0).revenue == D(3)
    assert paper_settlement("A", lots, "void", T0).revenue == D(0)


def test_replaying_markets_one_by_one_gives_the_whole_replay():
    """A market's lots never mix with another's: replaying only some markets yields exactly
    their part of the full ledger, which is what lets reconciliation skip closed-out ones."""
    fills = [
        fill("f1", "o1", "A", "yes", 100, "0.95", "0.34", 0),
        fill("f2", "o2", "B", "no", 10, "0.90", "0.07", 1),
        fill("f3", "o3", "C", "yes", 60, "0.88", "0.45", 2),
        fill("f4", "o3", "C", "yes", 20, "0.90", "0.10", 3, action="sell"),
        fill("f5", "o4", "D", "no", 5, "0.92", "0.03", 4),
    ]
    settlements = [settle("A", "yes", 30), settle("B", "yes", 31)]
    whole = build_ledger(fills, CONTEXTS, settlements)
    parts = [
        build_ledger(
            [f for f in fills if f.ticker == m], CONTEXTS, [s for s in settlements if s.ticker == m]
        )
        for m in ("A", "B", "C", "D")
    ]
    assert whole.markets == {"A", "B", "C", "D"}
    assert whole.closed_out_markets == {"A", "B"}
    assert sorted(t.trade_id for p in parts for t in p.closed_trades) == sorted(
        t.trade_id for t in whole.closed_trades
    )
    assert [lot for p in parts for lot in p.open_lots] == whole.open_lots
    assert {t.trade_id: t for p in parts for t in p.closed_trades} == {
        t.trade_id: t for t in whole.closed_trades
    }
