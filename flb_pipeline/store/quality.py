"""Each scan's data-quality verdicts, kept so the decision path can refuse a scan by itself.

A blocking check only gates the run it runs in: a UI "Materialize" of trade_candidates alone
would read the latest scan whatever its checks said. The verdicts recorded here travel with
the scan instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from flb_pipeline.store.bulk import append, timestamps


def save_quality_results(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    run_id: str,
    results: Sequence[tuple[str, bool, str | None]],
    evaluated_at: datetime,
) -> int:
    """(check name, passed, description) of one scan; a re-run of the checks replaces them."""
    return append(
        con,
        "scan_quality_checks",
        {
            "scan_id": [scan_id] * len(results),
            "check_name": [name for name, _, _ in results],
            "passed": [passed for _, passed, _ in results],
            "description": [description for _, _, description in results],
            "run_id": [run_id] * len(results),
            "evaluated_at": timestamps([evaluated_at] * len(results)),
        },
        on_conflict="replace",
    )


def quality_results(con: duckdb.DuckDBPyConnection, scan_id: str) -> dict[str, tuple[bool, str]]:
    """check name -> (passed, description) as recorded for `scan_id`."""
    rows = con.execute(
        "SELECT check_name, passed, coalesce(description, '') FROM scan_quality_checks"
        " WHERE scan_id = ?",
        [scan_id],
    ).fetchall()
    return {name: (passed, description) for name, passed, description in rows}
