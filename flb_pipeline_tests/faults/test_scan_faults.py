"""Fault campaign: a trading cycle against a hostile exchange that corrupts one scan page.

Every corruption must end the same way: no order reaches the exchange or the store, nothing
already stored is lost (the earlier scan and the good pages stay; the scan is either failed
with its reason or complete with the bad record counted), and the run says why in one line
(an ERROR; nothing else at WARNING or above). The store is calibrated, so an honest exchange
would be traded (the control case).
"""

import logging
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from flb_pipeline.core.scan_bounds import scan_bounds
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import SimControl, definitions_for, run_job
from flb_pipeline_tests.faults.hostile import CORRUPTIONS, HostileExchange, log_lines

PAGE_LIMIT = 50
CORRUPT_PAGE = 3

CAUSES = {
    "truncated_json": "body is not JSON",
    "html_502": "server_error: HTTP 502",
    "nan_literal": "body is not JSON",
    "ten_megabytes": "response_too_large",
    "endless_cursor": "page cap hit",
    "nan_price": "field 'yes_ask_dollars' is not a number: 'NaN'",
    "price_above_one": "field 'yes_ask_dollars' is outside [0, 1] dollars: '1.2500'",
    "negative_price": "field 'no_bid_dollars' is outside [0, 1] dollars: '-0.0100'",
    "missing_ticker": "(no ticker or id): missing required field 'ticker'",
    "volume_not_a_number": "field 'volume' is not a number: 'lots'",
    "volume_beyond_bigint": "field 'volume' is out of range: 1e+30",
    "ask_beyond_decimal": "field 'yes_ask_dollars' is outside [0, 1] dollars: '12345678.5'",
}


@pytest.fixture
def hostile(trading_sim: SimulatorServer) -> Iterator[HostileExchange]:
    with HostileExchange(trading_sim) as proxy:
        yield proxy


@pytest.fixture
def hostile_defs(hostile: HostileExchange, trading_db: Path) -> dg.Definitions:
    return definitions_for(hostile.url, trading_db, exchange={"markets_page_limit": PAGE_LIMIT})


def exchange_orders(sim: SimulatorServer) -> list[dict]:
    control = SimControl(sim.root_url)
    try:
        return control.api("/portfolio/orders")["orders"]
    finally:
        control.http.close()


def scans(db_path: Path) -> dict[str, tuple]:
    """scan_id -> (status, pages, markets, invalid_records, error)."""
    with Store(db_path).connect() as con:
        rows = con.execute(
            "SELECT scan_id, status, pages, markets, invalid_records, error FROM scans"
        ).fetchall()
    return {scan_id: rest for scan_id, *rest in rows}


def scan_tickers(db_path: Path, scan_id: str) -> set[str]:
    with Store(db_path).connect() as con:
        rows = con.execute(
            "SELECT ticker FROM market_snapshots WHERE scan_id = ?", [scan_id]
        ).fetchall()
    return {ticker for (ticker,) in rows}


def local_orders(db_path: Path) -> int:
    with Store(db_path).connect() as con:
        (orders,) = con.execute("SELECT count(*) FROM orders").fetchone()
    return orders


def test_an_honest_exchange_behind_the_proxy_is_traded(
    hostile_defs, hostile, trading_sim, trading_db
):
    """The control case: the proxy itself changes nothing, and this store would trade."""
    result = run_job(hostile_defs, "trading_job")
    assert result.success
    assert materialization_metadata(result, "market_snapshots")["invalid_records"] == 0
    assert exchange_orders(trading_sim) and local_orders(trading_db) > 0


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_scan_page_places_no_order_loses_nothing_and_says_why(
    corruption, hostile_defs, hostile, trading_sim, trading_db
):
    assert run_job(hostile_defs, "snapshot_job").success
    ((earlier_id, (_, _, universe_size, _, _)),) = scans(trading_db).items()
    earlier_tickers = scan_tickers(trading_db, earlier_id)
    hostile.corrupt(corruption, page=CORRUPT_PAGE)
    hostile.listing_requests = 0
    instance = dg.DagsterInstance.ephemeral()

    result = run_job(hostile_defs, "trading_job", instance=instance)

    assert not result.success
    assert exchange_orders(trading_sim) == [] and local_orders(trading_db) == 0
    errors = log_lines(instance, result.run_id, logging.WARNING)
    assert len(errors) == 1 and CAUSES[corruption] in errors[0], errors
    stored = scans(trading_db)
    ((scan_id, (status, pages, markets, invalid, error)),) = [
        item for item in stored.items() if item[0] != earlier_id
    ]
    assert stored[earlier_id][0] == "complete"
    assert scan_tickers(trading_db, earlier_id) == earlier_tickers
    kept = scan_tickers(trading_db, scan_id)
    if CORRUPTIONS[corruption].skips_record:
        assert (status, invalid, error) == ("complete", 1, None)
        assert kept == earlier_tickers - {hostile.corrupted_ticker}
        assert corruption == "missing_ticker" or hostile.corrupted_ticker in errors[0]
        return
    assert status == "failed" and CAUSES[corruption] in error
    good_pages = (CORRUPT_PAGE - 1) * PAGE_LIMIT
    assert kept <= earlier_tickers and len(kept) == markets >= good_pages
    if corruption == "endless_cursor":
        cap = scan_bounds(
            listings=1,
            page_limit=PAGE_LIMIT,
            max_markets=250_000,
            budget_s=120.0,
            previous_records=universe_size,
        ).max_pages
        assert hostile.listing_requests == pages == cap
    else:
        assert markets == good_pages and pages == CORRUPT_PAGE - 1
