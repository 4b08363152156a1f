"""Bulk writes through DuckDB's Arrow path: one INSERT per batch, never a row at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa

MONEY = pa.decimal128(18, 4)
PRICE = pa.decimal128(10, 4)
TIMESTAMP = pa.timestamp("us", tz="UTC")
Conflict = Literal["error", "ignore", "replace"]
_VERB = {"error": "INSERT", "ignore": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE"}


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside land together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def prices(values: Iterable[Decimal | None]) -> pa.Array:
    return pa.array(values, PRICE)


def money(values: Iterable[Decimal | None]) -> pa.Array:
    return pa.array(values, MONEY)


def timestamps(values: Iterable[datetime | None]) -> pa.Array:
    return pa.array(values, TIMESTAMP)


def append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Mapping[str, pa.Array | list],
    *,
    on_conflict: Conflict = "error",
) -> int:
    """Insert a columnar batch into `table`; returns the number of rows offered.

    DuckDB reads `arrow_batch` straight from this frame's locals (a replacement scan):
    zero-copy, and unlike `register` it works while an earlier result is still open.
    """
    arrow_batch = pa.table(dict(columns))
    if arrow_batch.num_rows == 0:
        return 0
    names = ", ".join(arrow_batch.column_names)
    con.execute(f"{_VERB[on_conflict]} INTO {table} ({names}) SELECT {names} FROM arrow_batch")
    return arrow_batch.num_rows


def exact_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pd.DataFrame:
    """A query as a DataFrame that keeps DECIMAL money as exact `Decimal` objects.

    DuckDB's own `.df()` turns DECIMAL into float64, which is fine for a model's prices and
    wrong for a ledger; going through Arrow keeps every cent.
    """
    return con.sql(sql, params=params).to_arrow_table().to_pandas()
