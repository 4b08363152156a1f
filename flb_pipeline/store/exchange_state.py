"""What the exchange said about itself during a cycle: whether it was taking orders, its
maintenance windows ahead, and the order group each cycle's orders went into."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from flb_pipeline.core.records import Count, ExchangeState, MaintenanceWindow


def record_exchange_state(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    state: ExchangeState,
    windows: list[MaintenanceWindow],
    read_at: datetime,
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO exchange_states (scan_id, read_at, exchange_active,"
        " trading_active, resumes_at, maintenance_windows) VALUES (?, ?, ?, ?, ?, ?)",
        [
            scan_id,
            read_at,
            state.exchange_active,
            state.trading_active,
            state.resumes_at,
            json.dumps([[w.start.isoformat(), w.end.isoformat()] for w in windows]),
        ],
    )


def exchange_state_for(
    con: duckdb.DuckDBPyConnection, scan_id: str
) -> tuple[ExchangeState, list[MaintenanceWindow]] | None:
    """The state the cycle of `scan_id` read, None if it could not read it."""
    row = con.execute(
        "SELECT exchange_active, trading_active, resumes_at, maintenance_windows"
        " FROM exchange_states WHERE scan_id = ?",
        [scan_id],
    ).fetchone()
    if row is None:
        return None
    windows = [
        MaintenanceWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in json.loads(row[3])
    ]
    return ExchangeState(bool(row[0]), bool(row[1]), row[2]), windows


def record_order_group(
    con: duckdb.DuckDBPyConnection,
    order_group_id: str,
    scan_id: str,
    contracts_limit: Count,
    created_at: datetime,
) -> None:
    con.execute(
        "INSERT INTO order_groups (order_group_id, scan_id, contracts_limit, created_at)"
        " VALUES (?, ?, ?, ?)",
        [order_group_id, scan_id, contracts_limit, created_at],
    )


def order_group_of(con: duckdb.DuckDBPyConnection, scan_id: str) -> str | None:
    """The order group a cycle already created (a re-executed run reuses it)."""
    row = con.execute(
        "SELECT order_group_id FROM order_groups WHERE scan_id = ? ORDER BY created_at DESC"
        " LIMIT 1",
        [scan_id],
    ).fetchone()
    return row[0] if row else None
