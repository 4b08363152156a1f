"""What each trading cycle decided: groups, thresholds, candidates, exclusions, capital."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.strategy import Candidate, StrategyThresholds
from flb_pipeline.store.bulk import (
    append,
    counts,
    exact_frame,
    money,
    prices,
    timestamps,
    transaction,
)


def save_groups(
    con: duckdb.DuckDBPyConnection, scan_id: str, group_of: Mapping[str, str], method: str
) -> int:
    tickers = sorted(group_of)
    return append(
        con,
        "correlation_groups",
        {
            "scan_id": [scan_id] * len(tickers),
            "ticker": tickers,
            "group_id": [group_of[t] for t in tickers],
            "method": [method] * len(tickers),
        },
        on_conflict="replace",
    )


def load_groups(con: duckdb.DuckDBPyConnection, scan_id: str) -> ScanGroups:
    """The scan's groups by market, and by event (all markets of an event share one)."""
    rows = con.execute(
        "SELECT g.ticker, s.event_ticker, g.group_id FROM correlation_groups g"
        " JOIN market_snapshots s ON s.scan_id = g.scan_id AND s.ticker = g.ticker"
        " WHERE g.scan_id = ?",
        [scan_id],
    ).fetchall()
    return ScanGroups(
        by_ticker={ticker: group for ticker, _, group in rows},
        by_event={event: group for _, event, group in rows},
    )


def recent_mids(
    con: duckdb.DuckDBPyConnection, scan_id: str, tickers: list[str], scans: int
) -> np.ndarray:
    """YES mids of `tickers` over the last `scans` complete scans up to `scan_id`, oldest
    first: shape [n_scans, n_tickers], NaN where a scan has no two-sided quote.

    Scans are ordered as they were recorded (rowid), which stays right even when a test's
    frozen clock gives several scans the same timestamp.
    """
    frame = con.execute(
        """
        WITH ordered AS (
            SELECT scan_id, rowid AS sequence FROM scans WHERE status = 'complete'
        ), recent AS (
            SELECT scan_id, sequence FROM ordered
            WHERE sequence <= (SELECT sequence FROM ordered WHERE scan_id = ?)
            ORDER BY sequence DESC LIMIT ?
        ), wanted AS (
            SELECT unnest(?::VARCHAR[]) AS ticker
        )
        SELECT r.sequence, s.ticker, CAST((s.yes_bid + s.yes_ask) / 2 AS DOUBLE) AS mid
        FROM market_snapshots s JOIN recent r USING (scan_id) JOIN wanted USING (ticker)
        """,
        [scan_id, scans, tickers],
    ).df()
    sequences = np.unique(frame["sequence"].to_numpy())
    wide = np.full((len(sequences), len(tickers)), np.nan)
    rows = np.searchsorted(sequences, frame["sequence"].to_numpy())
    wide[rows, pd.Index(tickers).get_indexer(frame["ticker"])] = frame["mid"].to_numpy()
    return wide


@dataclass(frozen=True)
class ThresholdsRecord:
    thresholds_id: str
    source: str
    thresholds: StrategyThresholds


def save_thresholds(
    con: duckdb.DuckDBPyConnection, record: ThresholdsRecord, created_at: datetime
) -> None:
    """Idempotent: the id is derived from the values, so the same thresholds keep one row."""
    t = record.thresholds
    con.execute(
        "INSERT OR IGNORE INTO strategy_thresholds VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.thresholds_id,
            created_at,
            record.source,
            t.min_favourite_price,
            t.min_edge,
            t.kelly_fraction,
            t.min_seconds_to_close,
            t.max_seconds_to_close,
        ],
    )


def load_thresholds(con: duckdb.DuckDBPyConnection, thresholds_id: str) -> ThresholdsRecord:
    row = con.execute(
        "SELECT thresholds_id, source, min_favourite_price, min_edge, kelly_fraction,"
        " min_seconds_to_close, max_seconds_to_close FROM strategy_thresholds"
        " WHERE thresholds_id = ?",
        [thresholds_id],
    ).fetchall()
    if not row:
        raise KeyError(f"no strategy thresholds {thresholds_id!r}")
    thresholds_id, source, *values = row[0]
    return ThresholdsRecord(thresholds_id, source, StrategyThresholds(*values))


def save_candidates(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    candidates: list[Candidate],
    *,
    model_id: str,
    thresholds_id: str,
    decided_at: datetime,
    quote_ts: Mapping[str, datetime | None],
) -> int:
    """The cycle's candidates, replacing any from an earlier attempt at the same scan (a
    retried or re-executed run), in one transaction."""
    c = candidates
    with transaction(con):
        con.execute("DELETE FROM trade_candidates WHERE scan_id = ?", [scan_id])
        return _append_candidates(con, scan_id, c, model_id, thresholds_id, decided_at, quote_ts)


def _append_candidates(
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    c: list[Candidate],
    model_id: str,
    thresholds_id: str,
    decided_at: datetime,
    quote_ts: Mapping[str, datetime | None],
) -> int:
    return append(
        con,
        "trade_candidates",
        {
            "scan_id": [scan_id] * len(c),
            "ticker": [x.ticker for x in c],
            "event_ticker": [x.event_ticker for x in c],
            "family": [x.family for x in c],
            "group_id": [x.group_id for x in c],
            "side": [x.side for x in c],
            "price": prices(x.price for x in c),
            "win_probability": [x.win_probability for x in c],
            "fee": money(x.fee for x in c),
            "edge": [x.edge for x in c],
            "kelly_fraction": [x.kelly_fraction for x in c],
            "kelly_contracts": counts(x.kelly_contracts for x in c),
            "contracts": counts(x.contracts for x in c),
            "cost": money(x.cost for x in c),
            "binding_cap": [x.binding_cap for x in c],
            "model_id": [model_id] * len(c),
            "thresholds_id": [thresholds_id] * len(c),
            "decided_at": timestamps([decided_at] * len(c)),
            "quote_ts": timestamps(quote_ts[x.ticker] for x in c),
            "price_levels": [x.price_levels.as_text() for x in c],
        },
    )


def candidates_frame(con: duckdb.DuckDBPyConnection, scan_id: str) -> pd.DataFrame:
    """The cycle's candidates, best edge first."""
    return exact_frame(
        con,
        "SELECT * FROM trade_candidates WHERE scan_id = ? ORDER BY edge DESC, ticker, side",
        [scan_id],
    )


def save_exclusions(con: duckdb.DuckDBPyConnection, scan_id: str, counts: Mapping[str, int]) -> int:
    reasons = sorted(counts)
    return append(
        con,
        "candidate_exclusions",
        {
            "scan_id": [scan_id] * len(reasons),
            "reason": reasons,
            "sides": [counts[r] for r in reasons],
        },
    )


def save_capital_mark(
    con: duckdb.DuckDBPyConnection,
    *,
    marked_at: datetime,
    scan_id: str | None,
    execution: str,
    balance: Decimal,
    positions_value: Decimal,
) -> Decimal:
    capital = balance + positions_value
    con.execute(
        "INSERT INTO capital_marks VALUES (?, ?, ?, ?, ?, ?)",
        [marked_at, scan_id, execution, balance, positions_value, capital],
    )
    return capital


def cycle_capital(con: duckdb.DuckDBPyConnection, scan_id: str) -> tuple[str, Decimal] | None:
    """(execution mode, capital) the cycle of `scan_id` decided with."""
    rows = con.execute(
        "SELECT execution, capital FROM capital_marks WHERE scan_id = ?"
        " ORDER BY marked_at DESC, rowid DESC LIMIT 1",
        [scan_id],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def latest_decided_scan(con: duckdb.DuckDBPyConnection) -> str | None:
    """The scan of the latest trading cycle that marked its capital."""
    rows = con.execute(
        "SELECT scan_id FROM capital_marks WHERE scan_id IS NOT NULL"
        " ORDER BY marked_at DESC, rowid DESC LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def oldest_candidate_quote(con: duckdb.DuckDBPyConnection, scan_id: str) -> datetime | None:
    """The oldest quote this cycle would trade on (None when it trades nothing)."""
    return con.execute(
        "SELECT min(quote_ts) FROM trade_candidates WHERE scan_id = ?", [scan_id]
    ).fetchall()[0][0]
