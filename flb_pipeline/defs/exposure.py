"""Exposure as the caps and the correlation/exposure switches see it: open lots plus orders."""

from decimal import Decimal

import duckdb
import pandas as pd

from flb_pipeline.core.sizing import ExposureBook, Holding
from flb_pipeline.store.ledger import open_holdings
from flb_pipeline.store.series import mutually_exclusive_events


def exposure_book(
    con: duckdb.DuckDBPyConnection,
    execution: str,
    groups: dict[str, str],
    proposed: pd.DataFrame | None = None,
) -> ExposureBook:
    """Open lots (in today's group of their market) plus any proposed orders (candidates)."""
    frames = [open_holdings(con, execution)]
    if proposed is not None and not proposed.empty:
        frames.append(proposed[["ticker", "event_ticker", "group_id", "side", "contracts", "cost"]])
    holdings = tuple(
        Holding(
            ticker=row.ticker,
            event_ticker=row.event_ticker or row.ticker,
            group_id=groups.get(row.ticker) or row.group_id or row.ticker,
            side=row.side,
            contracts=int(row.contracts),
            cost=Decimal(row.cost),
        )
        for frame in frames
        for row in frame.itertuples()
    )
    return ExposureBook(holdings, mutually_exclusive_events(con))
