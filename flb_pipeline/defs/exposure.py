"""Exposure as the caps and the correlation/exposure switches see it: open lots, resting
orders (they may fill at any moment) and the cycle's proposed orders."""

from collections.abc import Mapping
from decimal import Decimal

import duckdb
import pandas as pd

from flb_pipeline.core.fees import FeeSchedule, schedule_for
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.records import count_of
from flb_pipeline.core.sizing import ExposureBook, Holding, order_cost
from flb_pipeline.exchange.schema import series_ticker_of
from flb_pipeline.store.ledger import open_holdings, resting_orders
from flb_pipeline.store.series import mutually_exclusive_events


def exposure_book(
    con: duckdb.DuckDBPyConnection,
    execution: str,
    groups: ScanGroups,
    schedules: Mapping[str, FeeSchedule | None],
    proposed: pd.DataFrame | None = None,
) -> ExposureBook:
    """Every holding in the group it counts against (`ScanGroups.of_holding`)."""
    frames = [open_holdings(con, execution), _resting_as_holdings(con, execution, schedules)]
    if proposed is not None and not proposed.empty:
        frames.append(proposed[["ticker", "event_ticker", "group_id", "side", "contracts", "cost"]])
    holdings = tuple(
        Holding(
            ticker=row.ticker,
            event_ticker=_text(row.event_ticker) or row.ticker,
            group_id=groups.of_holding(row.ticker, _text(row.event_ticker), _text(row.group_id)),
            side=row.side,
            contracts=count_of(row.contracts),
            cost=Decimal(row.cost),
        )
        for frame in frames
        for row in frame.itertuples()
    )
    return ExposureBook(holdings, mutually_exclusive_events(con))


def _text(value: object) -> str:
    """A text column's value; a missing one (None, or NaN from a frame) is ''."""
    return value if isinstance(value, str) else ""


def _resting_as_holdings(
    con: duckdb.DuckDBPyConnection, execution: str, schedules: Mapping[str, FeeSchedule | None]
) -> pd.DataFrame:
    """A resting order risks what it would cost if all of it filled, taker fee as the bound."""
    resting = resting_orders(con, execution)
    resting["contracts"] = resting["remaining"]
    resting["cost"] = [
        order_cost(
            schedule_for(schedules, series_ticker_of(row.event_ticker)),
            count_of(row.remaining),
            Decimal(row.limit_price),
        )
        for row in resting.itertuples()
    ]
    return resting[["ticker", "event_ticker", "group_id", "side", "contracts", "cost"]]
