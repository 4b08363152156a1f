"""market_snapshots and settled_history through Dagster, against the simulator over HTTP."""

import math
import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store.history import price_point_count, settled_market_count
from flb_pipeline.store.snapshots import scan_summary
from flb_pipeline_tests.conftest import (
    SimControl,
    check_results,
    definitions_for,
    run_job,
    small_world,
)
from flb_pipeline_tests.faults.hostile import HostileExchange, log_lines


def open_market_count(sim) -> int:
    return sum(1 for _ in _open_tickers(sim))


def _open_tickers(sim):
    cursor = ""
    while True:
        page = sim.api("/markets", status="open", limit=1000, cursor=cursor)
        yield from (market["ticker"] for market in page["markets"])
        cursor = page["cursor"]
        if not cursor:
            return


def test_snapshot_lands_every_open_market_with_metadata_and_checks(flb_defs, sim, store):
    result = run_job(flb_defs, "snapshot_job")
    assert result.success
    metadata = materialization_metadata(result, "market_snapshots")
    expected = open_market_count(sim)
    assert metadata["markets"] == metadata["rows"] == expected > 100
    assert metadata["pages"] == 1 and metadata["invalid_records"] == 0
    assert metadata["scan_latency_ms"] > 0 and metadata["oldest_quote_age_s"] >= 0
    assert check_results(result) == {
        "no_crossed_books": True,
        "prices_within_bounds": True,
        "unique_tickers": True,
        "complete_records": True,
    }
    with store.connect() as con:
        summary = scan_summary(con, metadata["scan_id"])
        (rows,) = con.execute(
            "SELECT count(DISTINCT ticker) FROM market_snapshots WHERE scan_id = ?",
            [summary.scan_id],
        ).fetchone()
        calls = con.execute("SELECT method, path, status FROM api_calls").fetchall()
    assert summary.status == "complete" and rows == expected
    assert ("GET", "/markets", 200) in calls and ("GET", "/series", 200) in calls


def test_scan_follows_pagination(simulator, sim, db_path):
    defs = definitions_for(simulator.url, db_path, exchange={"markets_page_limit": 40})
    result = run_job(defs, "snapshot_job")
    metadata = materialization_metadata(result, "market_snapshots")
    expected = open_market_count(sim)
    assert metadata["markets"] == expected
    assert metadata["pages"] == -(-expected // 40)


def test_series_filter_limits_the_universe(flb_defs, sim):
    config = {"ops": {"market_snapshots": {"config": {"series_tickers": ["KXHIGHNY"]}}}}
    result = flb_defs.resolve_job_def("snapshot_job").execute_in_process(
        run_config={**config, "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    )
    metadata = materialization_metadata(result, "market_snapshots")
    expected = len(
        sim.api("/markets", status="open", series_ticker="KXHIGHNY", limit=1000)["markets"]
    )
    assert 0 < metadata["markets"] == expected


def test_history_is_incremental(flb_defs, sim, store):
    first = run_job(flb_defs, "history_job")
    assert first.success
    metadata = materialization_metadata(first, "settled_history")
    assert metadata["new_markets"] > 300 and metadata["new_price_points"] > 1000
    again = materialization_metadata(run_job(flb_defs, "history_job"), "settled_history")
    assert again["new_markets"] == 0 and again["new_price_points"] == 0
    sim.advance(900)
    later = materialization_metadata(run_job(flb_defs, "history_job"), "settled_history")
    assert later["new_markets"] > 0 and later["new_price_points"] > 0
    with store.connect() as con:
        assert settled_market_count(con) == metadata["new_markets"] + later["new_markets"]
        assert price_point_count(con) == metadata["new_price_points"] + later["new_price_points"]
        (results,) = con.execute(
            "SELECT count(*) FROM settled_markets WHERE result NOT IN ('yes', 'no')"
        ).fetchone()
    assert results == 0


def test_history_backfills_across_the_historical_cutoff_with_no_gap_and_no_duplicate(
    db_path, store
):
    """A first backfill reaches back past the exchange's historical cutoff: markets settled
    before it come from `/historical/markets` (candles one market at a time), the rest from
    the live listing. Later, as the cutoff moves on, nothing is fetched twice or missed."""
    world = small_world(history_days=2.0, history_events=60, historical_cutoff_s=43_200.0)
    with SimulatorServer(world) as server:
        control = SimControl(server.root_url)
        defs = definitions_for(server.url, db_path)
        first = materialization_metadata(run_job(defs, "history_job"), "settled_history")
        live = control.listing("/markets", status="settled")
        old = control.listing("/historical/markets")
        assert live and old and first["new_markets"] == len(live) + len(old)
        control.advance(3 * 3600)
        later = materialization_metadata(run_job(defs, "history_job"), "settled_history")
        everything = control.listing("/markets", status="settled")
        everything += control.listing("/historical/markets")
    with store.connect() as con:
        stored = [row[0] for row in con.execute("SELECT ticker FROM settled_markets").fetchall()]
        (unpriced,) = con.execute(
            "SELECT count(*) FROM settled_markets WHERE prices_fetched_at IS NULL"
        ).fetchone()
        priced_old = con.execute(
            "SELECT count(DISTINCT ticker) FROM settled_prices WHERE list_contains(?, ticker)",
            [[m["ticker"] for m in old]],
        ).fetchone()[0]
    assert later["new_markets"] > 0
    assert sorted(stored) == sorted(m["ticker"] for m in everything)  # no gap, no duplicate
    assert unpriced == 0 and priced_old == len(old)


def _failure(result) -> str:
    """What the UI shows for the failed run: step failures, else the run's own failure."""
    errors = [getattr(e.event_specific_data, "error", None) for e in result.all_events]
    return "\n".join(error.message for error in errors if error is not None)


def _errors(store, path: str | None = None) -> dict[str, int]:
    """Failed attempts by class, of every call or of the calls to `path`."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT error_class, count(*) FROM api_calls WHERE error_class IS NOT NULL"
            " AND (? IS NULL OR path = ?) GROUP BY 1",
            [path, path],
        ).fetchall()
    return dict(rows)


TIER = "/account/limits"
"""A client's first call reads the account's API tier: a faulty exchange fails it too (the
client then paces at its defaults), and those attempts are counted like any other."""


def _scans(store) -> list[tuple]:
    with store.connect() as con:
        return con.execute("SELECT status, pages, markets, error FROM scans").fetchall()


def test_malformed_json_fails_the_scan_loudly_and_counts_errors(flb_defs, sim, store):
    sim.faults(malformed_rate=1.0)
    result = run_job(flb_defs, "snapshot_job")
    assert not result.success
    assert "not JSON" in _failure(result)
    assert _errors(store, "/series")["malformed_response"] == 4
    assert _errors(store)["malformed_response"] == 8 and _errors(store, TIER)
    ((status, _, _, error),) = _scans(store)
    assert status == "failed" and "not JSON" in error


def test_429_burst_is_absorbed_by_backoff(flb_defs, sim, store):
    sim.faults(burst_429=2)
    result = run_job(flb_defs, "snapshot_job")
    assert result.success
    assert _errors(store) == {"rate_limited": 2}


def test_429_storm_fails_the_scan(simulator, sim, db_path, store):
    sim.faults(burst_429=100)
    result = run_job(
        definitions_for(simulator.url, db_path, exchange={"max_attempts": 3}), "snapshot_job"
    )
    assert not result.success and "429" in _failure(result)
    assert _errors(store, "/series") == _errors(store, TIER) == {"rate_limited": 3}


def test_server_errors_fail_the_scan(simulator, sim, db_path, store):
    sim.faults(error_rate=1.0)
    result = run_job(
        definitions_for(simulator.url, db_path, exchange={"max_attempts": 2}), "snapshot_job"
    )
    assert not result.success and "HTTP 500" in _failure(result)
    assert _errors(store, "/series") == _errors(store, TIER) == {"server_error": 2}


def test_timeouts_fail_the_scan(simulator, sim, db_path, store):
    sim.faults(latency_ms=1500)
    defs = definitions_for(simulator.url, db_path, exchange={"timeout_s": 0.3, "max_attempts": 2})
    result = run_job(defs, "snapshot_job")
    assert not result.success and "timeout" in _failure(result)
    assert _errors(store, "/series") == _errors(store, TIER) == {"timeout": 2}


DEAD_URL = "http://127.0.0.1:9/trade-api/v2"


def test_unreachable_exchange_fails_with_a_readable_message(db_path, store):
    live_like = definitions_for(DEAD_URL, db_path, exchange={"exchange": "demo", "max_attempts": 1})
    result = run_job(live_like, "snapshot_job")
    assert not result.success
    assert f"cannot reach {DEAD_URL}" in _failure(result)
    assert _errors(store) == {"unreachable": 1}


def test_unreachable_simulator_clock_fails_before_anything_runs(db_path):
    result = run_job(definitions_for(DEAD_URL, db_path), "snapshot_job")
    assert not result.success
    assert f"cannot read the simulator clock at {DEAD_URL}" in _failure(result)


def test_rows_written_before_a_failure_are_kept_and_the_scan_is_failed(
    simulator, sim, db_path, store
):
    sim.faults(error_rate=0.1)  # with this seed some pages land before one fails
    defs = definitions_for(
        simulator.url, db_path, exchange={"markets_page_limit": 10, "max_attempts": 1}
    )
    result = run_job(defs, "snapshot_job")
    assert not result.success
    ((status, pages, markets, error),) = _scans(store)
    assert status == "failed" and "HTTP 500" in error
    assert pages >= 3 and markets == 10 * pages


def test_missing_field_skips_the_record_counts_it_and_blocks_the_scan(flb_defs, sim, store):
    sim.faults(missing_field="close_time")
    result = run_job(flb_defs, "snapshot_job")
    assert result.is_node_success("market_snapshots")  # the scan itself did not crash
    checks = check_results(result)
    assert checks["complete_records"] is False
    metadata = materialization_metadata(result, "market_snapshots")
    assert metadata["invalid_records"] == open_market_count(sim) and metadata["markets"] == 0
    assert _errors(store) == {"schema_error": metadata["invalid_records"]}


def test_locked_database_fails_with_one_clear_error(simulator, db_path):
    defs = definitions_for(simulator.url, db_path, lock_timeout_s=0.5)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, time
                con = duckdb.connect({str(db_path)!r})
                print("locked", flush=True)
                time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_job(defs, "snapshot_job")
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    assert "stayed locked by another process" in _failure(result)


@pytest.fixture
def hostile(simulator):
    with HostileExchange(simulator) as proxy:
        yield proxy


def snapshot_config(**fields) -> dict:
    return {"ops": {"market_snapshots": {"config": fields}}}


def _stored_tickers(store) -> set[str]:
    with store.connect() as con:
        return {
            ticker for (ticker,) in con.execute("SELECT ticker FROM market_snapshots").fetchall()
        }


def test_an_endless_cursor_stops_at_the_hard_page_cap_with_the_pages_kept(hostile, db_path, store):
    defs = definitions_for(hostile.url, db_path, exchange={"markets_page_limit": 40})
    hostile.corrupt("endless_cursor", page=2)
    result = run_job(defs, "snapshot_job", run_config=snapshot_config(max_markets=400))
    assert not result.success and "page cap hit" in _failure(result)
    ((status, pages, markets, error),) = _scans(store)
    assert status == "failed" and "(cap 11: 400 markets at most)" in error
    assert markets == 80 and len(_stored_tickers(store)) == 80  # pages 1 and 2 are real
    assert hostile.listing_requests == pages == 11


def test_the_page_cap_follows_the_last_complete_scan_of_the_universe(hostile, sim, db_path, store):
    defs = definitions_for(hostile.url, db_path, exchange={"markets_page_limit": 40})
    assert run_job(defs, "snapshot_job").success
    hostile.corrupt("endless_cursor", page=2)
    hostile.listing_requests = 0
    result = run_job(defs, "snapshot_job")
    assert not result.success
    universe = open_market_count(sim)
    expected_pages = 1 + math.ceil(universe / 40)
    cap = 3 * expected_pages + 10
    failed = [row for row in _scans(store) if row[0] == "failed"]
    ((_, pages, _, error),) = failed
    assert f"(cap {cap}: 3 x {expected_pages} pages for the {universe} markets" in error
    assert hostile.listing_requests == pages == cap


def test_a_scan_past_its_wall_clock_budget_fails_and_keeps_its_pages(hostile, db_path, store):
    defs = definitions_for(hostile.url, db_path, exchange={"markets_page_limit": 10})
    hostile.delay_s = 0.25
    result = run_job(defs, "snapshot_job", run_config=snapshot_config(scan_budget_s=1.0))
    assert not result.success and "wall-clock budget hit" in _failure(result)
    ((status, pages, markets, error),) = _scans(store)
    assert status == "failed" and "(budget 1 s)" in error
    assert markets == 10 * pages and hostile.listing_requests == pages <= 1.0 / 0.25 + 1


def test_categories_without_series_scan_nothing_rather_than_everything(flb_defs, store):
    result = run_job(flb_defs, "snapshot_job", run_config=snapshot_config(categories=["None"]))
    assert result.success
    assert materialization_metadata(result, "market_snapshots")["markets"] == 0


BAD_FIELDS = {
    "volume_not_a_number": "field 'volume' is not a number: 'lots'",
    "volume_beyond_bigint": "field 'volume' is out of range: 1e+30",
    "ask_beyond_decimal": "field 'yes_ask_dollars' is outside [0, 1] dollars: '12345678.5'",
    "nan_price": "field 'yes_ask_dollars' is not a number: 'NaN'",
    "missing_ticker": "markets record #1 (no ticker or id): missing required field 'ticker'",
}


@pytest.mark.parametrize("corruption", BAD_FIELDS)
def test_a_bad_field_skips_its_market_only_counts_it_and_names_it(
    corruption, hostile, sim, db_path, store
):
    defs = definitions_for(hostile.url, db_path, exchange={"markets_page_limit": 40})
    hostile.corrupt(corruption, page=2)
    instance = dg.DagsterInstance.ephemeral()
    result = run_job(defs, "snapshot_job", instance=instance)
    assert result.is_node_success("market_snapshots")
    assert check_results(result)["complete_records"] is False
    metadata = materialization_metadata(result, "market_snapshots")
    universe = open_market_count(sim)
    assert metadata["invalid_records"] == 1 and metadata["markets"] == universe - 1
    assert _scans(store) == [("complete", metadata["pages"], universe - 1, None)]
    assert hostile.corrupted_ticker not in _stored_tickers(store)
    assert _errors(store) == {"schema_error": 1}
    (line,) = log_lines(instance, result.run_id)
    assert BAD_FIELDS[corruption] in line
    assert corruption == "missing_ticker" or f"'{hostile.corrupted_ticker}'" in line
