"""Recorded history out of the store into date-partitioned Parquet, and back as a replay.

A backtest's workers never open the DuckDB file: the history of the range (and the markets
settled in the lookback before it, for the walk-forward models) is copied once into Parquet
under the run's directory, the large tables partitioned by UTC day, and every worker opens it
in its own in-memory DuckDB with views named like the store's tables. So the store's own
queries (`calibration_frame`, `load_series`, ...) read an export unchanged, and no worker ever
contends for the DuckDB writer lock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.model_fit import horizon_quotes
from flb_pipeline.core.records import ONE_DOLLAR, BookLevel, OrderBook, count_of
from flb_pipeline.core.replay_history import ReplayHistory, build_history, price_of
from flb_pipeline.store.archive import everywhere
from flb_pipeline.store.models import calibration_frame
from flb_pipeline.store.series import load_series, mutually_exclusive_events

PARTITIONED = ("settled_prices", "market_trades", "market_snapshots")
SINGLE = (
    "settled_markets", "series", "events", "scans", "capital_marks", "order_books",
    "correlation_groups",
)  # fmt: skip
CANDLES, SCANS = "candles", "scans"
EMPTY_DAY = "1970-01-01"
"""Where an empty partitioned table's file goes, so its reader still sees its columns."""


@dataclass(frozen=True)
class ExportedHistory:
    root: Path
    rows: dict[str, int]


def export_history(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    start: datetime,
    end: datetime,
    lookback_start: datetime,
    archive: Path,
) -> ExportedHistory:
    """Copy what a replay of [start, end) needs: markets open in the range or settled since
    `lookback_start` (training), their candles and prints, and the recorded scans of the
    range with their groups, books and decision times."""
    root.mkdir(parents=True, exist_ok=True)
    con.execute("SET enable_progress_bar = false")  # a step's log is no terminal
    snapshots = everywhere(con, archive, "market_snapshots")
    groups = everywhere(con, archive, "correlation_groups")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW export_markets AS SELECT * FROM settled_markets"
        f" WHERE close_time >= {_instant(lookback_start)} AND open_time < {_instant(end)}"
    )
    in_range = "SELECT scan_id FROM scans WHERE started_at >= $start AND started_at < $end"
    queries = {
        "settled_markets": "SELECT * FROM export_markets",
        "series": "SELECT * FROM series",
        "events": "SELECT * FROM events",
        "settled_prices": "SELECT * FROM settled_prices WHERE ticker IN"
        " (SELECT ticker FROM export_markets)",
        "market_trades": "SELECT * FROM market_trades WHERE ticker IN"
        " (SELECT ticker FROM export_markets) AND created_time < $end",
        "market_snapshots": f"SELECT * FROM {snapshots} WHERE scan_id IN ({in_range})",
        "scans": f"SELECT * FROM scans WHERE scan_id IN ({in_range})",
        "capital_marks": f"SELECT * FROM capital_marks WHERE scan_id IN ({in_range})",
        "order_books": f"SELECT * FROM order_books WHERE scan_id IN ({in_range})",
        "correlation_groups": f"SELECT * FROM {groups} WHERE scan_id IN ({in_range})",
    }
    times = {"settled_prices": "period_end", "market_trades": "created_time",
             "market_snapshots": "snapshot_ts"}  # fmt: skip
    rows = {}
    for table, query in queries.items():
        parameters = {k: v for k, v in {"start": start, "end": end}.items() if f"${k}" in query}
        rows[table] = _copy(con, query, parameters, root / table, times.get(table))
    return ExportedHistory(root, rows)


def _instant(moment: datetime) -> str:
    """A time as a SQL literal (a view cannot take parameters)."""
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    parameters: dict[str, datetime],
    target: Path,
    day_of: str | None,
) -> int:
    """One table to Parquet: by UTC day of `day_of` when given, else one file. An empty
    table still gets a file, so its columns are known to the reader."""
    count = con.execute(f"SELECT count(*) FROM ({query})", parameters).fetchone()
    rows = int(count[0]) if count else 0
    target.mkdir(parents=True, exist_ok=True)
    if day_of is None or rows == 0:
        folder = target if day_of is None else target / f"day={EMPTY_DAY}"
        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / "data.parquet").replace("'", "''")
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT PARQUET)", parameters)
        return rows
    partitioned = f"SELECT *, CAST({day_of} AT TIME ZONE 'UTC' AS DATE) AS day FROM ({query})"
    folder = str(target).replace("'", "''")
    con.execute(
        f"COPY ({partitioned}) TO '{folder}'"
        " (FORMAT PARQUET, PARTITION_BY (day), OVERWRITE_OR_IGNORE)",
        parameters,
    )
    return rows


def open_export(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose views carry the store's table names over the export."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for table in (*PARTITIONED, *SINGLE):
        files = str(root / table / "**" / "*.parquet").replace("'", "''")
        con.execute(
            f"CREATE VIEW {table} AS SELECT * EXCLUDE (day) FROM read_parquet('{files}',"
            " hive_partitioning = true, union_by_name = true)"
            if table in PARTITIONED
            else f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{files}')"
        )
    return con


def market_directory(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, float]]:
    """ticker -> (event, close time) of every exported market: what a report needs."""
    rows = con.execute(
        "SELECT ticker, event_ticker, epoch(close_time) FROM settled_markets ORDER BY ticker"
    ).fetchall()
    return {ticker: (event, float(close)) for ticker, event, close in rows}


def replay_history(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    step_s: float,
    training_horizons_s: tuple[float, ...],
) -> ReplayHistory:
    """The export as a replay: candles on a `step_s` grid, or the recorded scans."""
    markets = con.execute(
        "SELECT ticker, event_ticker, series_ticker, coalesce(category, '') AS category,"
        " epoch(open_time) AS open_ts, epoch(close_time) AS close_ts, result,"
        " g.price_levels, coalesce(g.fractional, false) AS fractional"
        " FROM settled_markets LEFT JOIN ("
        "   SELECT ticker, arg_max(price_levels, snapshot_ts) AS price_levels,"
        "   arg_max(fractional, snapshot_ts) AS fractional FROM market_snapshots GROUP BY ticker"
        " ) g USING (ticker) ORDER BY ticker"
    ).fetchnumpy()
    con.execute(
        "CREATE OR REPLACE TEMP VIEW market_index AS SELECT ticker,"
        " CAST(row_number() OVER (ORDER BY ticker) - 1 AS BIGINT) AS market FROM settled_markets"
    )
    trades = con.execute(
        "SELECT i.market, epoch(t.created_time) AS ts,"
        " CAST(round(t.yes_price * 10000) AS INTEGER) AS yes_price,"
        " CAST(round(t.contracts * 100) AS BIGINT) AS count,"
        " t.taker_side = 'yes' AS taker_bought_yes"
        " FROM market_trades t JOIN market_index i USING (ticker) ORDER BY i.market, ts"
    ).fetchnumpy()
    training = horizon_quotes(calibration_frame(con, training_horizons_s))
    series = load_series(con)
    exclusive = mutually_exclusive_events(con)
    if source == CANDLES:
        return build_history(
            markets, _candles(con), trades, training, series, step_s=step_s,
            mutually_exclusive=exclusive,
        )  # fmt: skip
    if source != SCANS:
        raise ValueError(f"quote source must be {CANDLES} or {SCANS}, not {source!r}")
    scan_ids, quotes = _scans(con)
    return build_history(
        markets, quotes, trades, training, series, mutually_exclusive=exclusive,
        books=_books(con), scan_groups=_groups(con), scan_ids=scan_ids,
    )  # fmt: skip


def _units(column: str) -> str:
    return f"coalesce(CAST(round({column} * 10000) AS SMALLINT), -1)"


def _candles(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    return con.execute(
        f"SELECT i.market, epoch(p.period_end) AS ts, {_units('p.yes_bid')} AS yes_bid,"
        f" {_units('p.yes_ask')} AS yes_ask"
        " FROM settled_prices p JOIN market_index i USING (ticker) ORDER BY ts, i.market"
    ).fetchnumpy()


def _scans(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Rows of the recorded scans, each at the time its cycle decided (its capital mark;
    the scan's end when no cycle decided on it)."""
    scan_ids = tuple(
        row[0] for row in con.execute("SELECT scan_id FROM scans ORDER BY scan_id").fetchall()
    )
    quotes = con.execute(
        f"""
        WITH decided AS (
            SELECT s.scan_id, row_number() OVER (ORDER BY s.scan_id) - 1 AS scan,
                   coalesce((SELECT min(c.marked_at) FROM capital_marks c
                             WHERE c.scan_id = s.scan_id), s.finished_at) AS decided_at
            FROM scans s
        )
        SELECT i.market, epoch(d.decided_at) AS ts, {_units("m.yes_bid")} AS yes_bid,
               {_units("m.yes_ask")} AS yes_ask, {_units("m.no_bid")} AS no_bid,
               {_units("m.no_ask")} AS no_ask, m.status = 'active' AS active,
               epoch(m.snapshot_ts) AS quote_ts, CAST(d.scan AS INTEGER) AS scan
        FROM market_snapshots m JOIN decided d USING (scan_id)
        JOIN market_index i USING (ticker)
        WHERE d.decided_at IS NOT NULL
        ORDER BY ts, i.market
        """
    ).fetchnumpy()
    return ("", *scan_ids), {**quotes, "scan": quotes["scan"] + 1}


def _books(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], OrderBook]:
    """Books recorded with a scan. They were stored as asks per side; a YES ask at p is a
    NO bid at 1 − p, which is how a book is kept."""
    rows = con.execute(
        "SELECT scan_id, ticker, side, CAST(round(price * 10000) AS INTEGER), contracts"
        " FROM order_books ORDER BY scan_id, ticker, side, level"
    ).fetchall()
    bids: dict[tuple[str, str], dict[str, list[BookLevel]]] = defaultdict(
        lambda: {"yes": [], "no": []}
    )
    for scan_id, ticker, side, units, contracts in rows:
        other = "no" if side == "yes" else "yes"
        bids[(scan_id, ticker)][other].append(
            BookLevel(ONE_DOLLAR - price_of(units), count_of(contracts))
        )
    return {
        key: OrderBook(key[1], tuple(levels["yes"]), tuple(levels["no"]))
        for key, levels in bids.items()
    }


def _groups(con: duckdb.DuckDBPyConnection) -> dict[str, ScanGroups]:
    rows = con.execute(
        "SELECT g.scan_id, g.ticker, s.event_ticker, g.group_id FROM correlation_groups g"
        " JOIN market_snapshots s USING (scan_id, ticker) ORDER BY g.scan_id, g.ticker"
    ).fetchall()
    by_scan: dict[str, tuple[dict[str, str], dict[str, str]]] = defaultdict(lambda: ({}, {}))
    for scan_id, ticker, event, group in rows:
        by_scan[scan_id][0][ticker] = group
        by_scan[scan_id][1][event] = group
    return {scan: ScanGroups(tickers, events) for scan, (tickers, events) in by_scan.items()}
