"""One exchange session per asset: every HTTP attempt lands in `api_calls`, failures fail loud.

Whatever happens inside, the attempts recorded so far are flushed to the store (the
error_burst kill switch counts them), the failure is logged as one line and surfaces in the
Dagster UI as a `Failure` with a readable description.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from flb_pipeline.core.modes import TradingMode, TradingRefused
from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.exchange.errors import ExchangeError
from flb_pipeline.store import StoreLocked
from flb_pipeline.store.api_calls import append_api_calls

DUCKDB_POOL = "duckdb"


def mode_or_fail(context: dg.OpExecutionContext, exchange: ExchangeResource) -> TradingMode:
    """The deployment's trading mode; a refused mode fails the step, naming what is missing."""
    try:
        return exchange.trading_mode()
    except TradingRefused as refused:
        context.log.error(str(refused))
        raise dg.Failure(description=str(refused)) from refused


@contextmanager
def exchange_session(
    context: dg.OpExecutionContext,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
    *,
    activity: str,
) -> Iterator[KalshiClient]:
    """A client for one unit of work. The trading mode is validated first: a deployment
    that may not run (live trading without consent) is refused before any connection."""
    mode_or_fail(context, exchange)
    client = exchange.client(now=clock.now)
    try:
        yield client
    except (ExchangeError, StoreLocked) as error:
        error_class = getattr(error, "error_class", "store_locked")
        context.log.error(f"{activity} failed: {error_class}: {error}")
        raise dg.Failure(
            description=f"{activity} failed: {error}",
            metadata={"error_class": error_class},
        ) from error
    finally:
        client.close()
        flush_api_calls(context, store, client)


def flush_api_calls(
    context: dg.OpExecutionContext, store: StoreResource, client: KalshiClient
) -> None:
    calls = client.drain_calls()
    if not calls:
        return
    try:
        with store.store().connect() as con:
            append_api_calls(con, calls)
    except StoreLocked as locked:
        context.log.error(f"could not record {len(calls)} api calls: {locked}")
