"""Series metadata; each series' `fee_type` and `fee_multiplier` price its markets' fees."""

from __future__ import annotations

from datetime import datetime

import duckdb

from flb_pipeline.core.fees import FeeBook, FeeChange, FeeSchedule, schedules_of
from flb_pipeline.core.records import EventInfo, SeriesInfo
from flb_pipeline.store.bulk import append, money, timestamps


def upsert_series(
    con: duckdb.DuckDBPyConnection, series: list[SeriesInfo], updated_at: datetime
) -> int:
    return append(
        con,
        "series",
        {
            "ticker": [s.ticker for s in series],
            "title": [s.title for s in series],
            "category": [s.category for s in series],
            "fee_type": [s.fee_type for s in series],
            "fee_multiplier": money(s.fee_multiplier for s in series),
            "frequency": [s.frequency for s in series],
            "tags": [list(s.tags) for s in series],
            "updated_at": timestamps([updated_at] * len(series)),
        },
        on_conflict="replace",
    )


def load_series(con: duckdb.DuckDBPyConnection) -> dict[str, SeriesInfo]:
    rows = con.execute(
        "SELECT ticker, title, category, fee_type, fee_multiplier, frequency, tags FROM series"
    ).fetchall()
    return {row[0]: SeriesInfo(*row[:6], tags=tuple(row[6] or ())) for row in rows}


def fee_schedules(con: duckdb.DuckDBPyConnection) -> dict[str, FeeSchedule | None]:
    """Per series ticker; None where the fee model is one we cannot price exactly."""
    return schedules_of(load_series(con))


def upsert_fee_changes(con: duckdb.DuckDBPyConnection, changes: list[FeeChange]) -> int:
    """The exchange's scheduled fee changes; one per series and moment, the latest word wins."""
    return append(
        con,
        "fee_changes",
        {
            "series_ticker": [c.series_ticker for c in changes],
            "fee_type": [c.fee_type for c in changes],
            "fee_multiplier": money(c.multiplier for c in changes),
            "scheduled_at": timestamps(c.scheduled_at for c in changes),
        },
        on_conflict="replace",
    )


def fee_book(con: duckdb.DuckDBPyConnection) -> FeeBook:
    """Every series' current fee model with its scheduled changes: what a fill pays when."""
    rows = con.execute(
        "SELECT series_ticker, fee_type, fee_multiplier, scheduled_at FROM fee_changes"
        " ORDER BY scheduled_at"
    ).fetchall()
    return FeeBook(fee_schedules(con), tuple(FeeChange(*row) for row in rows))


def upsert_events(
    con: duckdb.DuckDBPyConnection, events: list[EventInfo], updated_at: datetime
) -> int:
    return append(
        con,
        "events",
        {
            "event_ticker": [e.event_ticker for e in events],
            "series_ticker": [e.series_ticker for e in events],
            "title": [e.title for e in events],
            "mutually_exclusive": [e.mutually_exclusive for e in events],
            "updated_at": timestamps([updated_at] * len(events)),
        },
        on_conflict="replace",
    )


def mutually_exclusive_events(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    rows = con.execute("SELECT event_ticker FROM events WHERE mutually_exclusive").fetchall()
    return frozenset(row[0] for row in rows)


def unknown_events(con: duckdb.DuckDBPyConnection, event_tickers: list[str]) -> list[str]:
    """The events among `event_tickers` whose exclusivity we have not recorded yet."""
    known = {
        row[0]
        for row in con.execute(
            "SELECT event_ticker FROM events WHERE list_contains(?, event_ticker)",
            [event_tickers],
        ).fetchall()
    }
    return sorted(set(event_tickers) - known)
