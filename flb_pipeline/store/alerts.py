"""Alerts sent: the audit trail, and what keeps a repeated failure from alerting again."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from flb_pipeline.core.alerts import Alert


@dataclass(frozen=True)
class SentFailure:
    """The latest run-failure alert of a job: its reason and when the failed run began."""

    reason: str
    run_created_ts: float


def record_alert(
    con: duckdb.DuckDBPyConnection,
    alert: Alert,
    reason: str,
    run_id: str | None = None,
    run_created_ts: float | None = None,
) -> None:
    con.execute(
        "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
        [alert.at, alert.kind, alert.key, reason, alert.message, run_id, run_created_ts],
    )


def last_failure_alert(con: duckdb.DuckDBPyConnection, kind: str, key: str) -> SentFailure | None:
    rows = con.execute(
        "SELECT reason, run_created_ts FROM alerts WHERE kind = ? AND key = ?"
        " ORDER BY rowid DESC LIMIT 1",
        [kind, key],
    ).fetchall()
    return SentFailure(rows[0][0], rows[0][1] or 0.0) if rows else None
