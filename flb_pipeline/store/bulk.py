"""Bulk writes through DuckDB's Arrow path (one INSERT per batch, never a row at a time),
and exact reads of the money and time they store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa

MONEY = pa.decimal128(20, 6)
"""Dollars to the millionth: hundredths of a contract at tenths of a cent, and Kalshi's fee
rounding over them, reach six decimals."""
PRICE = pa.decimal128(10, 4)
COUNT = pa.decimal128(18, 2)
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


def counts(values: Iterable[int | Decimal | None]) -> pa.Array:
    """Contract counts, whole or in hundredths, exactly."""
    return pa.array((None if v is None else Decimal(v) for v in values), COUNT)


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


PRICE_UNITS = 10**PRICE.scale
_PRICE_OF_UNITS = tuple(Decimal(units).scaleb(-PRICE.scale) for units in range(PRICE_UNITS + 1))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def price_from_units(units: int | None) -> Decimal | None:
    """A DECIMAL(10, 4) price read as integer ten-thousandths (`CAST(p * 10000 AS BIGINT)`).

    Exact, and a table lookup for every price in [0, 1]: DuckDB's own per-value Decimal
    conversion is what made reading one 5,000-market scan slow.
    """
    if units is None:
        return None
    if 0 <= units <= PRICE_UNITS:
        return _PRICE_OF_UNITS[units]
    return Decimal(units).scaleb(-PRICE.scale)


def timestamp_from_us(micros: int | None) -> datetime | None:
    """A TIMESTAMPTZ read as `epoch_us(ts)`, back as an exact UTC datetime."""
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def exact_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pd.DataFrame:
    """A query as a DataFrame that keeps DECIMAL money as exact `Decimal` objects.

    DuckDB's own `.df()` turns DECIMAL into float64, which is fine for a model's prices and
    wrong for a ledger; going through Arrow keeps every cent.
    """
    return con.sql(sql, params=params).to_arrow_table().to_pandas()
