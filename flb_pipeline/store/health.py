"""System-health aggregates over a time window, computed where the rows are (in DuckDB)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from flb_pipeline.core.ledger import ClosedTrade
from flb_pipeline.core.records import count_of
from flb_pipeline.core.risk import STALE_BOOK


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def endpoint_latency(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Per endpoint: attempts (`calls`), failed attempts (`errors`), calls that failed after
    their retries (`failed_calls`), and measured latency percentiles.

    Latency is measured over real HTTP attempts only; records skipped as invalid (latency 0)
    count among the calls and failed calls, as they do in `api_totals`, so the endpoints add
    up to the totals.
    """
    return _records(
        con,
        """
        SELECT method, path, count(*) AS calls, count(error_class) AS errors,
               count(error_class) FILTER (WHERE final) AS failed_calls,
               round(quantile_cont(latency_ms, 0.5) FILTER (WHERE latency_ms > 0), 3) AS p50_ms,
               round(quantile_cont(latency_ms, 0.95) FILTER (WHERE latency_ms > 0), 3) AS p95_ms
        FROM api_calls WHERE called_at >= ? AND called_at < ?
        GROUP BY method, path ORDER BY calls DESC, method, path
        """,
        [start, end],
    )


def api_totals(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> dict[str, Any]:
    """Attempts (`calls`) and failed attempts (`errors`) as the health figure, and calls that
    failed after their retries (`failed_calls`), which is what error_burst counts."""
    (row,) = _records(
        con,
        """
        SELECT count(*) AS calls, count(error_class) AS errors,
               count(error_class) FILTER (WHERE final) AS failed_calls,
               round(quantile_cont(latency_ms, 0.5) FILTER (WHERE latency_ms > 0), 3) AS p50_ms,
               round(quantile_cont(latency_ms, 0.95) FILTER (WHERE latency_ms > 0), 3) AS p95_ms
        FROM api_calls WHERE called_at >= ? AND called_at < ?
        """,
        [start, end],
    )
    return row


def scan_health(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> dict[str, Any]:
    """Scans run, how many completed, in how many clock hours, their latency, and the quote
    age the trading cycles acted on.

    `scan_hours` counts the distinct clock hours with at least one scan (New York's offset
    from UTC is whole hours, so UTC hours are its clock hours): the rate is per hour of
    scanning, not per hour of the day. Quote age has one definition: the age of the oldest
    quote a trading cycle uses, measured when its stale_book check evaluates, i.e. that
    check's recorded value; a cycle that used no quote records none and is left out.
    """
    (scans,) = _records(
        con,
        """
        SELECT count(*) AS scans,
               count(*) FILTER (WHERE status = 'complete') AS complete_scans,
               count(*) FILTER (WHERE status = 'failed') AS failed_scans,
               count(DISTINCT date_trunc('hour', started_at)) AS scan_hours,
               round(quantile_cont(latency_ms, 0.5), 3) AS latency_p50_ms
        FROM scans WHERE started_at >= ? AND started_at < ?
        """,
        [start, end],
    )
    (quote_ages,) = _records(
        con,
        """
        SELECT round(quantile_cont(value, 0.5), 3) AS quote_age_p50_s,
               round(max(value), 3) AS quote_age_max_s
        FROM risk_check_results
        WHERE check_name = ? AND value IS NOT NULL AND evaluated_at >= ? AND evaluated_at < ?
        """,
        [STALE_BOOK, start, end],
    )
    return {**scans, **quote_ages}


def order_health(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, execution: str
) -> dict[str, Any]:
    (row,) = _records(
        con,
        """
        SELECT count(*) AS orders,
               count(*) FILTER (WHERE status = 'rejected') AS rejected,
               count(*) FILTER (WHERE status IN ('pending', 'unknown')) AS unresolved,
               coalesce(sum(contracts), 0) AS contracts_ordered,
               coalesce(sum(filled_contracts), 0) AS contracts_filled
        FROM orders WHERE created_at >= ? AND created_at < ? AND execution = ?
        """,
        [start, end, execution],
    )
    return row


def fill_prices_between(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, execution: str
) -> list[tuple[Decimal, Decimal]]:
    """(fill price, decision price) of our buy fills in [start, end), oldest first."""
    return con.execute(
        """
        SELECT f.price, o.decision_price
        FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
        WHERE f.created_time >= ? AND f.created_time < ? AND f.execution = ? AND f.action = 'buy'
        ORDER BY f.created_time, f.fill_id
        """,
        [start, end, execution],
    ).fetchall()


def kill_switch_states(
    con: duckdb.DuckDBPyConnection, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Each switch's latest verdict evaluated before `at` (or ever, without one)."""
    return _records(
        con,
        """
        SELECT check_name, arg_max(passed, rowid) AS passed, arg_max(reason, rowid) AS reason,
               arg_max(paused_until, rowid) AS paused_until
        FROM risk_check_results WHERE ? IS NULL OR evaluated_at < ?
        GROUP BY check_name ORDER BY check_name
        """,
        [at, at],
    )


def closed_trades_between(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, execution: str
) -> list[ClosedTrade]:
    """Trades that closed in [start, end), as ledger records for the metrics."""
    rows = con.execute(
        """
        SELECT trade_id, order_id, ticker, coalesce(family, ''), coalesce(group_id, ''), side,
               entry_price, decision_price, contracts, cost, fees, slippage_bps, result,
               gross_pnl, net_pnl, opened_at, closed_at, holding_period_s, model_id, scan_id,
               win_probability, close_kind
        FROM closed_trades WHERE closed_at >= ? AND closed_at < ? AND execution = ?
        ORDER BY closed_at, trade_id
        """,
        [start, end, execution],
    ).fetchall()
    return [ClosedTrade(*row[:8], count_of(row[8]), *row[9:]) for row in rows]
