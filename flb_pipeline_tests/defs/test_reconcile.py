"""Reconciliation through Dagster: the ledger replays only the markets whose trades can have
changed, and what it stores always equals a replay of the whole history."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from flb_pipeline.core.ledger import Ledger, build_ledger
from flb_pipeline.defs.exposure import exposure_book
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline.store.decisions import latest_decided_scan, load_groups
from flb_pipeline.store.ledger import (
    load_fills,
    load_settlements,
    markets_to_replay,
    order_contexts,
    positions_mark_value,
)
from flb_pipeline.store.series import fee_schedules
from flb_pipeline_tests.conftest import (
    TRADING_WORLD,
    SimControl,
    check_results,
    definitions_for,
    run_job,
    small_world,
)
from flb_pipeline_tests.defs.test_trading import check_description

EXCHANGE = "exchange"


def whole_history_replay(db: Path) -> Ledger:
    with Store(db).connect() as con:
        markets = [
            ticker
            for (ticker,) in con.execute(
                "SELECT ticker FROM fills UNION SELECT ticker FROM settlements"
            ).fetchall()
        ]
        return build_ledger(
            load_fills(con, EXCHANGE, markets),
            order_contexts(con, EXCHANGE, markets),
            load_settlements(con, EXCHANGE, markets),
        )


def replayed_tickers(con) -> set[str]:
    return {market.ticker for market in markets_to_replay(con, EXCHANGE)}


def stored_ledger(db: Path) -> tuple[set[tuple], dict[str, Decimal]]:
    """(open lots, closed trades' net P&L by trade id) as the store holds them."""
    with Store(db).connect() as con:
        lots = set(
            con.execute(
                "SELECT order_id, ticker, side, contracts, cost, fees FROM positions"
                " WHERE execution = ?",
                [EXCHANGE],
            ).fetchall()
        )
        trades = dict(
            con.execute(
                "SELECT trade_id, net_pnl FROM closed_trades WHERE execution = ?", [EXCHANGE]
            ).fetchall()
        )
    return lots, trades


def assert_equals_whole_replay(db: Path) -> None:
    replay = whole_history_replay(db)
    lots, trades = stored_ledger(db)
    assert lots == {
        (lot.order_id, lot.ticker, lot.side, lot.contracts, lot.cost, lot.fees)
        for lot in replay.open_lots
    }
    assert trades == {trade.trade_id: trade.net_pnl for trade in replay.closed_trades}


def test_closed_out_markets_are_not_replayed_and_the_ledger_equals_a_whole_replay(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db)
    assert run_job(defs, "trading_job").success
    trading_control.advance(1500)  # the first cycle's markets close and settle
    assert run_job(defs, "reconcile_job").success
    assert run_job(defs, "trading_job").success  # new positions beside the closed-out ones

    with Store(trading_db).connect() as con:
        closed_out = {
            ticker for (ticker,) in con.execute("SELECT ticker FROM closed_out_markets").fetchall()
        }
        settled = {t for (t,) in con.execute("SELECT ticker FROM settlements").fetchall()}
        held = {t for (t,) in con.execute("SELECT ticker FROM positions").fetchall()}
        replayed = replayed_tickers(con)
    assert closed_out and closed_out <= settled
    assert replayed == held  # only the open book is replayed each cycle
    assert_equals_whole_replay(trading_db)


def test_a_late_fill_brings_its_closed_out_market_back_into_the_replay(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db)
    assert run_job(defs, "trading_job").success
    trading_control.advance(1500)
    assert run_job(defs, "reconcile_job").success
    _, trades_before = stored_ledger(trading_db)

    with Store(trading_db).connect() as con:  # as if this fill had not reached us yet
        (ticker, fill_id) = con.execute(
            "SELECT ticker, min(fill_id) FROM fills"
            " WHERE ticker IN (SELECT ticker FROM closed_out_markets) GROUP BY ticker LIMIT 1"
        ).fetchone()
        con.execute("DELETE FROM fills WHERE fill_id = ?", [fill_id])
        assert ticker in replayed_tickers(con)

    assert run_job(defs, "reconcile_job").success  # the exchange lists the fill again
    with Store(trading_db).connect() as con:
        (restored,) = con.execute(
            "SELECT count(*) FROM fills WHERE fill_id = ?", [fill_id]
        ).fetchone()
        assert restored == 1 and ticker not in replayed_tickers(con)
    _, trades_after = stored_ledger(trading_db)
    assert trades_after == trades_before
    assert_equals_whole_replay(trading_db)


def test_a_new_fill_on_a_closed_out_market_is_replayed_and_its_trade_stored(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db)
    assert run_job(defs, "trading_job").success
    trading_control.advance(1500)
    assert run_job(defs, "reconcile_job").success
    with Store(trading_db).connect() as con:  # a second order's fill, reported late
        (ticker, fills) = con.execute(
            "SELECT ticker, fills FROM closed_out_markets ORDER BY ticker LIMIT 1"
        ).fetchone()
        con.execute(
            "INSERT INTO fills SELECT 'late-fill', 'late-order', NULL, execution, ticker, side,"
            " action, 2, price, fee, is_taker, created_time FROM fills WHERE ticker = ? LIMIT 1",
            [ticker],
        )
    assert run_job(defs, "reconcile_job").success
    with Store(trading_db).connect() as con:
        (late_trades,) = con.execute(
            "SELECT count(*) FROM closed_trades WHERE order_id = 'late-order'"
        ).fetchone()
        (recorded,) = con.execute(
            "SELECT fills FROM closed_out_markets WHERE ticker = ?", [ticker]
        ).fetchone()
    assert late_trades == 1 and recorded == fills + 1
    assert_equals_whole_replay(trading_db)


def test_paper_capital_counts_a_lot_closing_in_this_reconcile_once(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db, exchange={"execution": "paper"})
    assert run_job(defs, "trading_job").success
    trading_control.advance(1500)  # the paper lots' markets settle
    assert run_job(defs, "reconcile_job").success
    with Store(trading_db).connect() as con:
        (balance,) = con.execute(
            "SELECT balance FROM capital_marks WHERE execution = 'paper'"
            " ORDER BY marked_at DESC LIMIT 1"
        ).fetchone()
        (realised,) = con.execute(
            "SELECT sum(net_pnl) FROM closed_trades WHERE execution = 'paper'"
        ).fetchone()
        (still_open,) = con.execute(
            "SELECT coalesce(sum(cost + fees), 0) FROM positions WHERE execution = 'paper'"
        ).fetchone()
    assert realised is not None  # lots closed in this very reconcile
    assert balance == Decimal(10_000) + realised - still_open


@pytest.fixture
def slow_settling_sim() -> Iterator[SimulatorServer]:
    """The trading world, but markets settle two hours after they close, as Kalshi's can."""
    with SimulatorServer(small_world(**TRADING_WORLD, settle_delay_s=7200.0)) as server:
        yield server


def test_lots_closed_but_unsettled_keep_their_last_bid_and_daily_loss_holds(
    slow_settling_sim, trading_db
):
    """Every market held closes, and settles 2 h later. In between, the lots are marked at
    their last recorded bid (they used to be marked at $0, which read as a loss beyond the
    $500 limit and tripped daily_loss); settlement then books the actual result."""
    control = SimControl(slow_settling_sim.root_url)
    defs = definitions_for(slow_settling_sim.url, trading_db, trading={"max_orders_per_cycle": 30})
    first = run_job(defs, "trading_job")
    assert first.success
    capital_after_orders = materialization_metadata(first, "positions")["capital"]
    held = marked_value_of_open_lots(trading_db)
    assert held > 500  # marked at zero, this much would have broken the daily loss limit

    control.advance(1300)  # every market held has closed; none has settled
    second = run_job(defs, "trading_job")
    assert check_results(second)["daily_loss"] is True
    assert materialization_metadata(second, "trade_candidates")["capital"] == capital_after_orders
    with Store(trading_db).connect() as con:
        (settled,) = con.execute("SELECT count(*) FROM settlements").fetchone()
    assert settled == 0

    control.advance(7200)
    assert run_job(defs, "reconcile_job").success
    first_scan = materialization_metadata(first, "order_submissions")["scan_id"]
    with Store(trading_db).connect() as con:
        unsettled = con.execute(
            "SELECT count(*) FROM orders o WHERE o.scan_id = ? AND o.filled_contracts > 0"
            " AND NOT EXISTS (SELECT 1 FROM closed_trades t WHERE t.order_id = o.order_id"
            " AND t.close_kind = 'settlement')",
            [first_scan],
        ).fetchone()[0]
    assert unsettled == 0


def marked_value_of_open_lots(db: Path) -> Decimal:
    with Store(db).connect() as con:
        return positions_mark_value(con, EXCHANGE)


def test_a_foreign_position_in_a_closed_market_belongs_to_its_event_group(
    slow_settling_sim, trading_db
):
    """A lot no order of ours explains (a manual trade on the account) whose market has
    closed: correlation_breach used to fail on its missing group (NaN); it now counts in
    its event's group and is marked like any other lot."""
    control = SimControl(slow_settling_sim.root_url)
    listed = control.api("/markets", status="open", limit=1000)["markets"]
    market = next(m for m in listed if "0.20" <= m["yes_bid_dollars"] <= "0.80")
    by_hand = {
        "ticker": market["ticker"], "side": "bid", "count": "3", "price": "0.9900",
        "client_order_id": "placed-by-hand", "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
    }  # fmt: skip
    placed = control.http.post("/trade-api/v2/portfolio/events/orders", json=by_hand)
    assert placed.status_code == 201
    defs = definitions_for(slow_settling_sim.url, trading_db)
    assert run_job(defs, "trading_job").success
    control.advance(1300)
    result = run_job(defs, "trading_job")
    reason = check_description(result, "correlation_breach")["reason"]
    assert check_results(result)["correlation_breach"] is True, reason
    with Store(trading_db).connect() as con:
        scan_id = latest_decided_scan(con)
        book = exposure_book(con, EXCHANGE, load_groups(con, scan_id), fee_schedules(con))
        (mark,) = con.execute(
            "SELECT yes_bid FROM market_marks WHERE ticker = ?", [market["ticker"]]
        ).fetchone()
    (foreign,) = [h for h in book.holdings if h.ticker == market["ticker"]]
    assert foreign.event_ticker == market["event_ticker"]
    assert foreign.group_id == market["event_ticker"]  # its event has left the scan too
    assert mark is not None and mark > 0
