"""The recorded state the kill switches read, and where their trips and verdicts are kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from flb_pipeline.core.records import count_of
from flb_pipeline.core.risk import RiskEvent, Verdict
from flb_pipeline.store.bulk import append, timestamps


def append_risk_event(
    con: duckdb.DuckDBPyConnection,
    event: RiskEvent,
    *,
    value: float | None = None,
    threshold: float | None = None,
    run_id: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO risk_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event.event_ts,
            event.check,
            event.kind,
            value,
            threshold,
            event.paused_until,
            event.reason,
            run_id,
        ],
    )


def risk_events(con: duckdb.DuckDBPyConnection) -> list[RiskEvent]:
    """Every trip, reset, halt and resume in the order they were recorded."""
    rows = con.execute(
        "SELECT event_ts, check_name, kind, paused_until, reason FROM risk_events ORDER BY rowid"
    ).fetchall()
    return [RiskEvent(*row) for row in rows]


def risk_events_after(con: duckdb.DuckDBPyConnection, position: int) -> list[tuple[int, RiskEvent]]:
    """(position, event) of the events recorded after `position` (a rowid), in order."""
    rows = con.execute(
        "SELECT rowid, event_ts, check_name, kind, paused_until, reason FROM risk_events"
        " WHERE rowid > ? ORDER BY rowid",
        [position],
    ).fetchall()
    return [(row[0], RiskEvent(*row[1:])) for row in rows]


def save_verdicts(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    run_id: str,
    verdicts: Iterable[Verdict],
    evaluated_at: datetime,
) -> None:
    v = list(verdicts)
    append(
        con,
        "risk_check_results",
        {
            "scan_id": [scan_id] * len(v),
            "run_id": [run_id] * len(v),
            "check_name": [x.check for x in v],
            "passed": [x.passed for x in v],
            "value": [x.value for x in v],
            "threshold": [x.threshold for x in v],
            "paused_until": timestamps(x.paused_until for x in v),
            "reason": [x.reason for x in v],
            "evaluated_at": timestamps([evaluated_at] * len(v)),
        },
        on_conflict="replace",
    )


def verdicts_for(con: duckdb.DuckDBPyConnection, scan_id: str) -> dict[str, dict[str, Any]]:
    """The latest verdict of every check on this cycle: what let its orders through."""
    rows = con.execute(
        """
        SELECT check_name, arg_max(passed, evaluated_at), arg_max(value, evaluated_at),
               arg_max(threshold, evaluated_at), arg_max(reason, evaluated_at),
               max(evaluated_at), arg_max(run_id, evaluated_at)
        FROM risk_check_results WHERE scan_id = ? GROUP BY check_name ORDER BY check_name
        """,
        [scan_id],
    ).fetchall()
    return {
        name: {
            "passed": passed, "value": value, "threshold": threshold, "reason": reason,
            "evaluated_at": evaluated_at, "run_id": run_id,
        }
        for name, passed, value, threshold, reason, evaluated_at, run_id in rows
    }  # fmt: skip


def recent_trade_outcomes(
    con: duckdb.DuckDBPyConnection, execution: str, limit: int
) -> list[tuple[datetime, Decimal]]:
    """(closed_at, net P&L) of the latest closed trades of one execution mode, newest first."""
    return con.execute(
        "SELECT closed_at, net_pnl FROM closed_trades WHERE execution = ?"
        " ORDER BY closed_at DESC, trade_id DESC LIMIT ?",
        [execution, limit],
    ).fetchall()


def recent_fill_prices(
    con: duckdb.DuckDBPyConnection, execution: str, since: datetime | None, limit: int
) -> list[tuple[Decimal, Decimal]]:
    """(fill price, decision price) of our latest buy fills after `since`, newest first."""
    return con.execute(
        """
        SELECT f.price, o.decision_price
        FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
        WHERE f.action = 'buy' AND f.execution = ? AND (? IS NULL OR f.created_time > ?)
        ORDER BY f.created_time DESC, f.fill_id DESC LIMIT ?
        """,
        [execution, since, since, limit],
    ).fetchall()


def fills_per_ordering_scan(
    con: duckdb.DuckDBPyConnection, execution: str, since: datetime | None, limit: int
) -> list[int]:
    """Contracts filled in each of the latest scans that sent orders, newest first. Rejected
    orders were sent (and answered); orders never placed, dropped at the gate or still
    pending were not."""
    rows = con.execute(
        """
        SELECT scan_id, sum(filled_contracts) FROM orders
        WHERE execution = ? AND status NOT IN ('pending', 'not_placed', 'dropped')
          AND (? IS NULL OR created_at > ?)
        GROUP BY scan_id ORDER BY max(rowid) DESC LIMIT ?
        """,
        [execution, since, since, limit],
    ).fetchall()
    return [count_of(row[1]) for row in rows]


def capital_at(con: duckdb.DuckDBPyConnection, moment: datetime, execution: str) -> Decimal | None:
    """The latest capital mark at or before `moment`."""
    rows = con.execute(
        "SELECT capital FROM capital_marks WHERE execution = ? AND marked_at <= ?"
        " ORDER BY marked_at DESC, rowid DESC LIMIT 1",
        [execution, moment],
    ).fetchall()
    return rows[0][0] if rows else None


def start_of_day_capital(
    con: duckdb.DuckDBPyConnection, day_start: datetime, execution: str
) -> Decimal | None:
    """Capital as the day opened: the last mark before it, else the day's first mark."""
    rows = con.execute(
        """
        (SELECT capital, 0 AS rank FROM capital_marks
         WHERE execution = ? AND marked_at < ? ORDER BY marked_at DESC, rowid DESC LIMIT 1)
        UNION ALL
        (SELECT capital, 1 AS rank FROM capital_marks
         WHERE execution = ? AND marked_at >= ? ORDER BY marked_at, rowid LIMIT 1)
        ORDER BY rank LIMIT 1
        """,
        [execution, day_start, execution, day_start],
    ).fetchall()
    return rows[0][0] if rows else None
