"""Blocking data-quality checks on each scan. A check that cannot evaluate fails closed.

Every verdict is also recorded with its scan (`scan_quality_checks`): a blocking check only
gates its own run, so the decision path reads these back and refuses a scan that did not
pass them all, however it was started (`require_clean_scan`).
"""

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from flb_pipeline.core.risk import scan_gate
from flb_pipeline.defs.assets.ingest import market_snapshots
from flb_pipeline.defs.resources import ClockResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.store import StoreLocked
from flb_pipeline.store.quality import quality_results, save_quality_results
from flb_pipeline.store.snapshots import (
    crossed_books,
    duplicate_tickers,
    invalid_record_count,
    prices_out_of_bounds,
)

EXAMPLES_SHOWN = 10
Offenders = Callable[[duckdb.DuckDBPyConnection, str], list[str]]

QUALITY: dict[str, tuple[Offenders, str, str]] = {
    "no_crossed_books": (
        crossed_books,
        "a crossed book",
        "A bid at or above the ask on either side means the quote cannot be trusted.",
    ),
    "prices_within_bounds": (
        prices_out_of_bounds,
        "a price outside [0,1]",
        "Every price of a binary contract lies in [0, 1] dollars.",
    ),
    "unique_tickers": (
        duplicate_tickers,
        "a duplicate row",
        "A ticker twice in one scan means pagination went wrong; sizing would double count.",
    ),
}
COMPLETE_RECORDS = "complete_records"
QUALITY_CHECKS = (*QUALITY, COMPLETE_RECORDS)
COMPLETE_RECORDS_DESCRIPTION = (
    "Records the exchange sent with a missing or unusable field were skipped and counted; a scan "
    "with holes is kept for the record but never traded on."
)


def _result(
    name: str, passed: bool, description: str | None, **metadata: object
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=market_snapshots.key,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _evaluate(con: duckdb.DuckDBPyConnection, scan_id: str) -> Iterator[dg.AssetCheckResult]:
    for name, (find_offenders, problem, _) in QUALITY.items():
        offenders = find_offenders(con, scan_id)
        yield _result(
            name,
            not offenders,
            f"{len(offenders)} market(s) with {problem}" if offenders else None,
            scan_id=scan_id,
            offending_markets=dg.MetadataValue.int(len(offenders)),
            examples=", ".join(offenders[:EXAMPLES_SHOWN]),
        )
    invalid = invalid_record_count(con, scan_id)
    yield _result(
        COMPLETE_RECORDS,
        invalid == 0,
        f"{invalid} market record(s) had a missing or unusable field" if invalid else None,
        scan_id=scan_id,
        invalid_records=dg.MetadataValue.int(invalid),
    )


@dg.multi_asset_check(
    name="snapshot_quality",
    specs=[
        dg.AssetCheckSpec(name, asset=market_snapshots, blocking=True, description=description)
        for name, (_, _, description) in QUALITY.items()
    ]
    + [
        dg.AssetCheckSpec(
            COMPLETE_RECORDS,
            asset=market_snapshots,
            blocking=True,
            description=COMPLETE_RECORDS_DESCRIPTION,
        )
    ],
    ins={"scan_id": dg.AssetIn(key=market_snapshots.key)},
    pool=DUCKDB_POOL,
    description="Crossed books, prices outside [0,1], duplicates, incomplete records.",
)
def snapshot_quality(
    context: dg.AssetCheckExecutionContext, scan_id: str, store: StoreResource, clock: ClockResource
) -> Iterator[dg.AssetCheckResult]:
    try:
        with store.store().connect() as con:
            results = list(_evaluate(con, scan_id))
            save_quality_results(
                con, scan_id, context.run.run_id,
                [(r.check_name, r.passed, r.description) for r in results], clock.now(),
            )  # fmt: skip
    except (StoreLocked, duckdb.Error, KeyError) as error:
        reason = f"cannot evaluate, failing closed: {error}"
        results = [_result(name, False, reason, scan_id=scan_id) for name in QUALITY_CHECKS]
    yield from results


def require_clean_scan(
    context: dg.OpExecutionContext, con: duckdb.DuckDBPyConnection, scan_id: str
) -> None:
    """Fail the step unless `scan_id` passed every quality check on record."""
    problem = scan_gate(quality_results(con, scan_id), QUALITY_CHECKS)
    if problem:
        message = f"refusing to trade on scan {scan_id}: {problem}"
        context.log.error(message, extra={"scan_id": scan_id})
        raise dg.Failure(description=message)


SNAPSHOT_CHECKS = [snapshot_quality]
