"""Reconciliation through Dagster: the ledger replays only the markets whose trades can have
changed, and what it stores always equals a replay of the whole history."""

from decimal import Decimal
from pathlib import Path

from flb_pipeline.core.ledger import Ledger, build_ledger
from flb_pipeline.store import Store
from flb_pipeline.store.ledger import (
    load_fills,
    load_settlements,
    markets_to_replay,
    order_contexts,
)
from flb_pipeline_tests.conftest import definitions_for, run_job

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
