"""Fault campaign past the scan: the hostile exchange corrupts a candidate's order book, the
portfolio a reconciliation reads (fills, positions), or its answer to an order POST.

Each must end the same way: no order on doubt (none sent on a corrupt book or an unreadable
portfolio, none after an order whose outcome is unknown, none twice), nothing already stored
lost (the ledger is as it was, or the order is recorded once, as the exchange holds it), and
the run says why in one line at WARNING or above.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline.store.snapshots import table_counts
from flb_pipeline_tests.conftest import definitions_for, run_job
from flb_pipeline_tests.faults.hostile import HostileExchange, log_lines
from flb_pipeline_tests.faults.test_scan_faults import exchange_orders

LEDGER = ("orders", "fills", "settlements", "positions", "closed_trades")
BOOK_CAUSES = {
    "order_book_truncated": "trade candidates failed: malformed_response: HTTP 200 body is not "
    "JSON",
    "order_book_price_above_one": "trade candidates failed: schema_error: field 'yes_dollars' "
    "is outside [0, 1] dollars: '1.5000'",
}
PORTFOLIO_CAUSES = {
    "fills_truncated": "malformed_response: HTTP 200 body is not JSON",
    "fill_without_ticker": "schema_error: fills record",
    "positions_truncated": "malformed_response: HTTP 200 body is not JSON",
    "position_without_ticker": "schema_error: market_positions record",
}


@pytest.fixture
def hostile(trading_sim: SimulatorServer) -> Iterator[HostileExchange]:
    with HostileExchange(trading_sim) as proxy:
        yield proxy


@pytest.fixture
def hostile_defs(hostile: HostileExchange, trading_db: Path) -> dg.Definitions:
    return definitions_for(
        hostile.url, trading_db, trading={"max_orders_per_cycle": 3, "order_batch_size": 1}
    )


def ledger(db_path: Path) -> dict[str, list[tuple]]:
    with Store(db_path).connect() as con:
        return {
            table: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in LEDGER
        }


def counts(db_path: Path) -> dict[str, int]:
    with Store(db_path).connect() as con:
        return table_counts(con)


def local_orders(db_path: Path) -> dict[str, str]:
    """client_order_id -> status."""
    with Store(db_path).connect() as con:
        return dict(con.execute("SELECT client_order_id, status FROM orders").fetchall())


def one_line(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    (line,) = log_lines(instance, result.run_id, logging.WARNING)
    return line


def stored_nothing_less(before: dict[str, int], after: dict[str, int]) -> bool:
    return all(after.get(table, 0) >= rows for table, rows in before.items())


@pytest.mark.parametrize("tampering", sorted(BOOK_CAUSES))
def test_a_corrupt_order_book_for_a_candidate_sends_no_order(
    tampering, hostile, hostile_defs, trading_sim, trading_db
):
    before = counts(trading_db)
    hostile.tamper(tampering)
    instance = dg.DagsterInstance.ephemeral()

    result = run_job(hostile_defs, "trading_job", instance=instance)

    assert not result.success
    assert hostile.tampered and {path for _, path in hostile.tampered} == {hostile.tampered[0][1]}
    assert exchange_orders(trading_sim) == [] and local_orders(trading_db) == {}
    assert stored_nothing_less(before, counts(trading_db))
    assert one_line(instance, result).startswith(BOOK_CAUSES[tampering])


@pytest.mark.parametrize("tampering", sorted(PORTFOLIO_CAUSES))
def test_a_malformed_portfolio_read_stops_reconciliation_and_trading_and_keeps_the_ledger(
    tampering, hostile, hostile_defs, trading_sim, trading_control, trading_db
):
    """After an honest cycle (orders, fills, positions), the exchange's fills or positions
    come back malformed: reconciliation fails, and so does the next cycle, which reconciles
    before it decides; the ledger stays as it was and no order goes out."""
    assert run_job(hostile_defs, "trading_job").success
    sent = exchange_orders(trading_sim)
    kept = ledger(trading_db)
    assert sent and kept["fills"] and kept["orders"]
    trading_control.advance(120)
    hostile.tamper(tampering)
    instance = dg.DagsterInstance.ephemeral()

    for job, activity in (("reconcile_job", "reconciliation"), ("trading_job", "trade candidates")):
        result = run_job(hostile_defs, job, instance=instance)
        assert not result.success
        assert one_line(instance, result).startswith(
            f"{activity} failed: {PORTFOLIO_CAUSES[tampering]}"
        )
        assert exchange_orders(trading_sim) == sent
        assert ledger(trading_db) == kept


def test_a_garbage_answer_to_order_posts_records_each_order_once_as_the_exchange_holds_it(
    hostile, hostile_defs, trading_sim, trading_db
):
    """The POSTs reach the exchange, which answers each with garbage. The client asks for
    each order by its client_order_id: every order is at the exchange once, recorded with
    the exchange's status, nothing is left in doubt, and the run says so in one line."""
    hostile.tamper("order_post_garbage")
    instance = dg.DagsterInstance.ephemeral()

    result = run_job(hostile_defs, "trading_job", instance=instance)

    assert result.success
    assert hostile.tampered and {method for method, _ in hostile.tampered} == {"POST"}
    at_exchange = exchange_orders(trading_sim)
    ids = [order["client_order_id"] for order in at_exchange]
    assert len(ids) == len(set(ids)) > 0
    assert local_orders(trading_db) == {o["client_order_id"]: o["status"] for o in at_exchange}
    line = one_line(instance, result)
    assert line.startswith(f"{len(ids)} order(s) whose POST failed were found at the exchange")
    assert line.count("malformed_response") == len(ids)


def test_an_order_post_answered_with_garbage_that_never_arrived_stops_the_cycle(
    hostile, hostile_defs, trading_sim, trading_control, trading_db
):
    """The POST never reaches the exchange and the answer is garbage: the order may or may
    not exist, so it is recorded `unknown` and nothing more is sent. The next cycle asks the
    exchange by client_order_id first and closes it as not placed."""
    hostile.tamper("order_post_swallowed")
    instance = dg.DagsterInstance.ephemeral()

    result = run_job(hostile_defs, "trading_job", instance=instance)

    assert not result.success
    assert exchange_orders(trading_sim) == []
    recorded = local_orders(trading_db)
    (doubtful,) = [cid for cid, status in recorded.items() if status == "unknown"]
    assert set(recorded.values()) <= {"unknown", "dropped"}, "nothing after it was sent"
    line = one_line(instance, result)
    assert line.startswith(f"order submission failed: outcome_unknown: order {doubtful} on ")
    assert line.endswith("and the exchange does not show it yet")

    hostile.tamper(None)
    trading_control.advance(60)
    assert run_job(hostile_defs, "trading_job").success
    local = local_orders(trading_db)
    at_exchange = {o["client_order_id"]: o["status"] for o in exchange_orders(trading_sim)}
    assert local.pop(doubtful) == "not_placed" and doubtful not in at_exchange
    held_back = {cid for cid, status in recorded.items() if status == "dropped"}
    assert {local.pop(cid) for cid in held_back} <= {"dropped"}
    assert local == at_exchange
