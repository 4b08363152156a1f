"""Blocking data-quality checks on each scan. A check that cannot evaluate fails closed."""

from collections.abc import Callable

import dagster as dg
import duckdb

from flb_pipeline.defs.assets.ingest import market_snapshots
from flb_pipeline.defs.resources import StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.store import StoreLocked
from flb_pipeline.store.snapshots import (
    crossed_books,
    duplicate_tickers,
    prices_out_of_bounds,
    scan_summary,
)

EXAMPLES_SHOWN = 10


def _cannot_evaluate(scan_id: str, error: Exception) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"cannot evaluate, failing closed: {error}",
        metadata={"scan_id": scan_id},
    )


def _snapshot_quality(
    store: StoreResource,
    scan_id: str,
    find_offenders: Callable[[duckdb.DuckDBPyConnection, str], list[str]],
    problem: str,
) -> dg.AssetCheckResult:
    try:
        with store.store().connect() as con:
            offenders = find_offenders(con, scan_id)
    except (StoreLocked, duckdb.Error) as error:
        return _cannot_evaluate(scan_id, error)
    return dg.AssetCheckResult(
        passed=not offenders,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(offenders)} market(s) with {problem}" if offenders else None,
        metadata={
            "scan_id": scan_id,
            "offending_markets": dg.MetadataValue.int(len(offenders)),
            "examples": ", ".join(offenders[:EXAMPLES_SHOWN]),
        },
    )


@dg.asset_check(asset=market_snapshots, blocking=True, pool=DUCKDB_POOL)
def no_crossed_books(market_snapshots: str, store: StoreResource) -> dg.AssetCheckResult:
    """A bid at or above the ask on either side means the quote cannot be trusted."""
    return _snapshot_quality(store, market_snapshots, crossed_books, "a crossed book")


@dg.asset_check(asset=market_snapshots, blocking=True, pool=DUCKDB_POOL)
def prices_within_bounds(market_snapshots: str, store: StoreResource) -> dg.AssetCheckResult:
    """Every price of a binary contract lies in [0, 1] dollars."""
    return _snapshot_quality(store, market_snapshots, prices_out_of_bounds, "a price outside [0,1]")


@dg.asset_check(asset=market_snapshots, blocking=True, pool=DUCKDB_POOL)
def unique_tickers(market_snapshots: str, store: StoreResource) -> dg.AssetCheckResult:
    """A ticker twice in one scan means pagination went wrong; sizing would double count."""
    return _snapshot_quality(store, market_snapshots, duplicate_tickers, "a duplicate row")


@dg.asset_check(asset=market_snapshots, blocking=True, pool=DUCKDB_POOL)
def complete_records(market_snapshots: str, store: StoreResource) -> dg.AssetCheckResult:
    """Records the exchange sent without a required field were skipped and counted; a scan
    with holes is kept for the record but never traded on."""
    try:
        with store.store().connect() as con:
            summary = scan_summary(con, market_snapshots)
    except (StoreLocked, duckdb.Error, KeyError) as error:
        return _cannot_evaluate(market_snapshots, error)
    return dg.AssetCheckResult(
        passed=summary.invalid_records == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{summary.invalid_records} market record(s) lacked a required field"
            if summary.invalid_records
            else None
        ),
        metadata={
            "scan_id": market_snapshots,
            "invalid_records": dg.MetadataValue.int(summary.invalid_records),
        },
    )


SNAPSHOT_CHECKS = [no_crossed_books, prices_within_bounds, unique_tickers, complete_records]
