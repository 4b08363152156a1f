"""Counts that show nothing was lost or duplicated: scans against their snapshot rows, orders
against what reached the exchange, open lots as net contracts (read by `flb soak`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from flb_pipeline.core.records import Count, count_of
from flb_pipeline.store.archive import snapshots_everywhere


@dataclass(frozen=True)
class ScanOutcomes:
    """Scans by outcome. A complete scan whose snapshot rows, live or archived, are no longer
    the markets it counted when it finished, or a scan still `running` after every run has
    finished, lost snapshots; a failed scan keeps what it stored, for the record, and is
    never traded on."""

    complete: int
    failed: int
    unfinished: int
    short_of_rows: int
    """Complete scans with fewer (or more) snapshot rows than they recorded."""

    @property
    def lost(self) -> int:
        return self.unfinished + self.short_of_rows


def scan_outcomes(con: duckdb.DuckDBPyConnection, archive: Path) -> ScanOutcomes:
    """Every scan's outcome; its snapshot rows are counted in the live table and in the
    retention `archive` together."""
    snapshots = snapshots_everywhere(con, archive)
    row = con.execute(
        f"""
        WITH stored AS (SELECT scan_id, count(*) AS n FROM {snapshots} GROUP BY scan_id)
        SELECT
            count(*) FILTER (WHERE s.status = 'complete'),
            count(*) FILTER (WHERE s.status = 'failed'),
            count(*) FILTER (WHERE s.status = 'running'),
            count(*) FILTER (WHERE s.status = 'complete' AND coalesce(stored.n, 0) <> s.markets)
        FROM scans s LEFT JOIN stored USING (scan_id)
        """
    ).fetchone()
    complete, failed, unfinished, short = row if row else (0, 0, 0, 0)
    return ScanOutcomes(complete, failed, unfinished, short)


def orders_by_status(con: duckdb.DuckDBPyConnection, execution: str) -> dict[str, int]:
    rows = con.execute(
        "SELECT status, count(*) FROM orders WHERE execution = ? GROUP BY status ORDER BY status",
        [execution],
    ).fetchall()
    return {status: int(count) for status, count in rows}


def acknowledged_orders(con: duckdb.DuckDBPyConnection, execution: str) -> list[str]:
    """client_order_ids of our orders the exchange acknowledged (it gave an order id)."""
    rows = con.execute(
        "SELECT client_order_id FROM orders WHERE execution = ? AND order_id IS NOT NULL"
        " ORDER BY client_order_id",
        [execution],
    ).fetchall()
    return [row[0] for row in rows]


def net_open_contracts(con: duckdb.DuckDBPyConnection, execution: str) -> dict[str, Count]:
    """Open lots as net contracts per market, as the exchange reports positions: YES
    positive, NO negative; flat markets left out."""
    rows = con.execute(
        "SELECT ticker, sum(CASE side WHEN 'yes' THEN contracts ELSE -contracts END)"
        " FROM positions WHERE execution = ? GROUP BY ticker HAVING sum(CASE side WHEN 'yes'"
        " THEN contracts ELSE -contracts END) <> 0 ORDER BY ticker",
        [execution],
    ).fetchall()
    return {ticker: count_of(net) for ticker, net in rows}


def position_corrections(con: duckdb.DuckDBPyConnection, execution: str) -> int:
    """Positions reconciliation had to adopt from the exchange because our fills could not
    explain them: a lost or duplicated record somewhere."""
    row = con.execute(
        "SELECT count(*) FROM reconciliation_log WHERE execution = ? AND kind = 'position'",
        [execution],
    ).fetchone()
    return int(row[0]) if row else 0


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the write-ahead log into the file, so its size is the store's size."""
    con.execute("CHECKPOINT")
