"""Retention: old scans' snapshots and groups move to date-partitioned Parquet.

`market_snapshots` and `correlation_groups` grow by one row per open market per cycle; after
the retention window their rows move to `<archive>/<table>/day=YYYY-MM-DD/data.parquet`
(the day of the scan, UTC), which DuckDB still queries (`snapshots_everywhere`). A day's
file is rewritten with the rows it already holds plus the live rows of scans it does not
hold yet, then those live rows are deleted: a crash between the two steps leaves rows in
both places, and the next run neither duplicates nor loses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

ARCHIVED_TABLES = ("market_snapshots", "correlation_groups")


@dataclass(frozen=True)
class ArchivedDay:
    table: str
    day: date
    rows_moved: int
    rows_in_file: int


def days_before(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> list[date]:
    """UTC days whose scans all started before `cutoff` and still have live rows."""
    rows = con.execute(
        """
        SELECT DISTINCT CAST(s.started_at AT TIME ZONE 'UTC' AS DATE) AS day
        FROM scans s
        WHERE CAST(s.started_at AT TIME ZONE 'UTC' AS DATE)
              < CAST(?::TIMESTAMPTZ AT TIME ZONE 'UTC' AS DATE)
          AND EXISTS (SELECT 1 FROM market_snapshots m WHERE m.scan_id = s.scan_id)
        ORDER BY day
        """,
        [cutoff],
    ).fetchall()
    return [row[0] for row in rows]


def archive_day(con: duckdb.DuckDBPyConnection, table: str, day: date, root: Path) -> ArchivedDay:
    """Move `table`'s rows of the scans that started on `day` into that day's file."""
    if table not in ARCHIVED_TABLES:
        raise ValueError(f"{table} is not archived")
    target = day_file(root, table, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_suffix(".tmp")
    live = f"""
        SELECT t.* FROM {table} t JOIN scans s ON s.scan_id = t.scan_id
        WHERE CAST(s.started_at AT TIME ZONE 'UTC' AS DATE) = $day
    """
    if target.exists():
        kept = f"SELECT * FROM {_parquet(target)}"
        new = f"SELECT * FROM ({live}) WHERE scan_id NOT IN (SELECT scan_id FROM ({kept}))"
        rows = f"{kept} UNION ALL BY NAME {new}"
    else:
        rows = live
    con.execute(
        f"COPY ({rows}) TO '{_sql_path(scratch)}' (FORMAT PARQUET, COMPRESSION ZSTD)",
        {"day": day},
    )
    os.replace(scratch, target)
    in_file = con.execute(f"SELECT count(*) FROM {_parquet(target)}").fetchone()
    moved = con.execute(
        f"""
        DELETE FROM {table} WHERE scan_id IN (
            SELECT scan_id FROM scans WHERE CAST(started_at AT TIME ZONE 'UTC' AS DATE) = $day)
          AND scan_id IN (SELECT DISTINCT scan_id FROM {_parquet(target)})
        """,
        {"day": day},
    ).fetchone()
    return ArchivedDay(table, day, int(moved[0]) if moved else 0, int(in_file[0]) if in_file else 0)


def day_file(root: Path, table: str, day: date) -> Path:
    return root / table / f"day={day.isoformat()}" / "data.parquet"


def snapshots_everywhere(con: duckdb.DuckDBPyConnection, root: Path) -> str:
    """A temporary view `all_market_snapshots` over the live rows and the archive; returns
    its name (what the backtester reads)."""
    return everywhere(con, root, "market_snapshots")


def everywhere(con: duckdb.DuckDBPyConnection, root: Path, table: str) -> str:
    """A temporary view `all_<table>` over an archived table's live rows and its archive."""
    if table not in ARCHIVED_TABLES:
        raise ValueError(f"{table} is not archived")
    files = sorted((root / table).glob("day=*/data.parquet"))
    archive = " UNION ALL BY NAME ".join(f"SELECT * FROM {_parquet(path)}" for path in files)
    union = (
        f"SELECT * FROM {table} UNION ALL BY NAME {archive}" if files else f"SELECT * FROM {table}"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW all_{table} AS {union}")
    return f"all_{table}"


def _parquet(path: Path) -> str:
    """`read_parquet` of one archive file, its columns as written (no hive `day` column)."""
    return f"read_parquet('{_sql_path(path)}', hive_partitioning = false)"


def _sql_path(path: Path) -> str:
    """A path as a single-quoted SQL literal's content."""
    return str(path).replace("'", "''")
