"""A benchmark world written into a store: settled markets, their candles and prints, and the
fee schedules of their series, as `history_job` and a scan would have recorded them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from flb_pipeline.core.replay_history import COUNT_UNITS, NO_PRICE, PRICE_UNITS
from flb_pipeline.store import Store
from flb_pipeline.store.series import upsert_series
from flb_pipeline_tests.core.backtest_world import ReplayWorld, WorldColumns, series_infos


def write_store(db: Path, columns: WorldColumns, world: ReplayWorld) -> None:
    markets, quotes, trades = columns.markets, columns.quotes, columns.trades
    tickers = np.asarray(markets["ticker"], dtype=object)
    now = datetime.fromtimestamp(world.start_ts + world.days * 86_400, UTC)
    with Store(db, create_directory=True).connect() as con:
        upsert_series(con, list(series_infos().values()), now)
        con.register("new_markets", pa.table({
            "ticker": tickers,
            "event_ticker": markets["event_ticker"],
            "series_ticker": markets["series_ticker"],
            "category": markets["category"],
            "open_time": _times(markets["open_ts"]),
            "close_time": _times(markets["close_ts"]),
            "result": markets["result"],
        }))  # fmt: skip
        con.execute(
            "INSERT INTO settled_markets SELECT ticker, event_ticker, series_ticker, category,"
            " open_time, close_time, result, NULL, close_time, close_time FROM new_markets"
        )
        con.register("new_prices", pa.table({
            "ticker": pa.array(tickers[quotes["market"]]),
            "period_end": _times(quotes["ts"]),
            "yes_bid": _prices(quotes["yes_bid"]),
            "yes_ask": _prices(quotes["yes_ask"]),
        }))  # fmt: skip
        con.execute(
            "INSERT INTO settled_prices SELECT ticker, period_end, yes_bid, yes_ask, NULL"
            " FROM new_prices"
        )
        con.register("new_trades", pa.table({
            "ticker": pa.array(tickers[trades["market"]]),
            "created_time": _times(trades["ts"]),
            "yes_price": _prices(trades["yes_price"]),
            "contracts": pa.array(trades["count"] / COUNT_UNITS, pa.float64()),
            "taker_side": np.where(trades["taker_bought_yes"], "yes", "no"),
        }))  # fmt: skip
        con.execute(
            "INSERT INTO market_trades SELECT ticker || ':' || row_number() OVER (), ticker,"
            " created_time, yes_price, contracts, taker_side FROM new_trades"
        )


def _times(seconds: np.ndarray) -> pa.Array:
    return pa.array((np.asarray(seconds) * 1e6).astype("int64"), pa.timestamp("us", tz="UTC"))


def _prices(units: np.ndarray) -> pa.Array:
    values = np.asarray(units)
    dollars = np.where(values == NO_PRICE, np.nan, values / PRICE_UNITS)
    return pa.array(dollars, pa.float64(), from_pandas=True)
