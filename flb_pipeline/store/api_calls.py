"""Every HTTP attempt against the exchange: latency log and error counts.

An attempt that was retried is recorded with `final = false`; only a call's final attempt
says whether the call failed, so error counts that gate trading read final rows only.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from flb_pipeline.core.records import ApiCall
from flb_pipeline.store.bulk import append, timestamps


def append_api_calls(con: duckdb.DuckDBPyConnection, calls: list[ApiCall]) -> int:
    return append(
        con,
        "api_calls",
        {
            "called_at": timestamps(c.called_at for c in calls),
            "method": [c.method for c in calls],
            "path": [c.path for c in calls],
            "status": [c.status for c in calls],
            "latency_ms": [c.latency_ms for c in calls],
            "error_class": [c.error_class for c in calls],
            "attempt": [c.attempt for c in calls],
            "final": [c.final for c in calls],
        },
    )


def errors_since(con: duckdb.DuckDBPyConnection, since: datetime) -> int:
    """Calls that failed after their retries (and records skipped as invalid) since `since`:
    a 429 absorbed by one retry is not an error of the system, a call that gave up is."""
    row = con.execute(
        "SELECT count(*) FROM api_calls WHERE error_class IS NOT NULL AND final AND called_at >= ?",
        [since],
    ).fetchone()
    return int(row[0]) if row else 0
