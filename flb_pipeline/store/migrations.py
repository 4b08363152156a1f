"""Versioned schema migrations. Append a new `Migration`; never edit one that has shipped."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from flb_pipeline.store.bulk import transaction


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "ingestion: api calls, series, scans, market snapshots, settled history",
        """
        CREATE TABLE api_calls (
            called_at TIMESTAMPTZ NOT NULL,
            method VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            status INTEGER,
            latency_ms DOUBLE NOT NULL,
            error_class VARCHAR,
            attempt INTEGER NOT NULL
        );
        CREATE TABLE series (
            ticker VARCHAR PRIMARY KEY,
            title VARCHAR,
            category VARCHAR,
            fee_type VARCHAR NOT NULL,
            fee_multiplier DECIMAL(10, 4) NOT NULL,
            frequency VARCHAR,
            tags VARCHAR[],
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE scans (
            scan_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            pages INTEGER NOT NULL DEFAULT 0,
            markets INTEGER NOT NULL DEFAULT 0,
            invalid_records INTEGER NOT NULL DEFAULT 0,
            latency_ms DOUBLE,
            oldest_quote_ts TIMESTAMPTZ,
            error VARCHAR
        );
        CREATE TABLE market_snapshots (
            scan_id VARCHAR NOT NULL,
            snapshot_ts TIMESTAMPTZ NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            ticker VARCHAR NOT NULL,
            event_ticker VARCHAR NOT NULL,
            series_ticker VARCHAR NOT NULL,
            title VARCHAR,
            category VARCHAR,
            status VARCHAR NOT NULL,
            yes_bid DECIMAL(10, 4),
            yes_ask DECIMAL(10, 4),
            no_bid DECIMAL(10, 4),
            no_ask DECIMAL(10, 4),
            last_price DECIMAL(10, 4),
            volume BIGINT,
            open_interest BIGINT,
            open_time TIMESTAMPTZ NOT NULL,
            close_time TIMESTAMPTZ NOT NULL,
            quote_ts TIMESTAMPTZ
        );
        CREATE TABLE settled_markets (
            ticker VARCHAR PRIMARY KEY,
            event_ticker VARCHAR NOT NULL,
            series_ticker VARCHAR NOT NULL,
            category VARCHAR,
            open_time TIMESTAMPTZ NOT NULL,
            close_time TIMESTAMPTZ NOT NULL,
            result VARCHAR NOT NULL,
            last_price DECIMAL(10, 4),
            fetched_at TIMESTAMPTZ NOT NULL,
            prices_fetched_at TIMESTAMPTZ
        );
        CREATE TABLE settled_prices (
            ticker VARCHAR NOT NULL,
            period_end TIMESTAMPTZ NOT NULL,
            yes_bid DECIMAL(10, 4),
            yes_ask DECIMAL(10, 4),
            last_price DECIMAL(10, 4),
            PRIMARY KEY (ticker, period_end)
        );
        CREATE TABLE history_fetches (
            fetched_at TIMESTAMPTZ NOT NULL,
            min_settled_ts BIGINT,
            markets INTEGER NOT NULL,
            price_points INTEGER NOT NULL
        );
        """,
    ),
)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction."""
    applied = []
    version = current_version(con)
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        with transaction(con):
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                [migration.version, migration.description],
            )
        applied.append(migration.version)
    return applied
