"""Threshold searches: per-cell result files written by the workers, and the merged verdict
in the store (`backtest_runs`, `backtest_cells`, `backtest_trades`).

Each (fold, cell) a worker replays becomes two files under the run's directory: its trades
as Parquet, with the columns of `closed_trades`, and everything else as JSON. Only the final
step opens the DuckDB file, once, to write the merged result.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flb_pipeline.core.ledger import ClosedTrade
from flb_pipeline.core.records import count_of
from flb_pipeline.core.search_verdict import SearchVerdict
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.core.threshold_search import CellResult, GridCell
from flb_pipeline.store.bulk import append, transaction
from flb_pipeline.store.ledger import trade_columns

BACKTEST = "backtest"


def write_cell_result(folder: Path, result: CellResult) -> Path:
    """`<folder>/<cell_id>/fold=<k>.parquet` and `.json`; returns the JSON path."""
    base = folder / result.cell_id / f"fold={result.fold}"
    base.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(trade_columns(result.trades)), base.with_suffix(".parquet"))
    summary = {k: v for k, v in asdict(result).items() if k != "trades"}
    base.with_suffix(".json").write_text(json.dumps(summary, default=str, allow_nan=False))
    return base.with_suffix(".json")


def read_cell_results(folder: Path) -> list[CellResult]:
    """Every (fold, cell) result under `folder`, in cell then fold order."""
    return [_read(path) for path in sorted(folder.glob("*/fold=*.json"))]


def _read(summary_path: Path) -> CellResult:
    data = json.loads(summary_path.read_text())
    table = pq.read_table(summary_path.with_suffix(".parquet"))
    trades = [_trade(row) for row in table.to_pylist()]
    return CellResult(
        **{
            **data,
            "trades": trades,
            "traded_cost": Decimal(data["traded_cost"]),
            "starting_capital": Decimal(data["starting_capital"]),
            "final_capital": Decimal(data["final_capital"]),
            "equity": [tuple(point) for point in data["equity"]],
            "pauses": [tuple(pause) for pause in data["pauses"]],
        }
    )


def _trade(row: dict[str, Any]) -> ClosedTrade:
    return ClosedTrade(**{**row, "contracts": count_of(row["contracts"])})


@dataclass(frozen=True)
class SearchRecord:
    """A threshold search as `strategy_thresholds` reads it."""

    run_id: str
    created_at: datetime
    adopted: bool
    reason: str
    thresholds: StrategyThresholds
    order_style: str
    thresholds_id: str | None


def save_search(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    created_at: datetime,
    window: tuple[datetime, datetime],
    grid: str,
    cells: list[GridCell],
    folds: int,
    verdict: SearchVerdict,
    skipped: dict[str, int],
    report_path: str | None,
    trades: dict[str, list[tuple[int, ClosedTrade]]],
) -> None:
    """The run, every cell's figures, and the trades of the cells shown in the report (the
    chosen cell and the defaults), in one transaction; a re-run of the same id replaces it."""
    chosen = next(cell for cell in cells if cell.cell_id == verdict.chosen_cell)
    ci = verdict.oos_return_ci
    with transaction(con):
        for table in ("backtest_trades", "backtest_cells", "backtest_runs"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        t = chosen.thresholds
        con.execute(
            "INSERT INTO backtest_runs VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id, created_at, window[0], window[1], grid, len(cells), folds,
                chosen.cell_id, verdict.adopted, verdict.reason,
                json.dumps([asdict(test) for test in verdict.tests]),
                verdict.pbo, verdict.deflated_sharpe, ci.estimate if ci else None,
                ci.low if ci else None, ci.high if ci else None,
                chosen.thresholds_id if verdict.adopted else None, t.min_favourite_price,
                t.min_edge, t.kelly_fraction, t.min_seconds_to_close, t.max_seconds_to_close,
                chosen.order_style, json.dumps(skipped), report_path,
            ],
        )  # fmt: skip
        _save_cells(con, run_id, cells, verdict)
        for cell_id, fold_trades in trades.items():
            _save_trades(con, run_id, cell_id, fold_trades)


def _save_cells(
    con: duckdb.DuckDBPyConnection, run_id: str, cells: list[GridCell], verdict: SearchVerdict
) -> None:
    scores = [verdict.scores[cell.cell_id] for cell in cells]
    append(
        con,
        "backtest_cells",
        {
            "run_id": [run_id] * len(cells),
            "cell_id": [c.cell_id for c in cells],
            "thresholds_id": [c.thresholds_id for c in cells],
            "order_style": [c.order_style for c in cells],
            "label": [c.label() for c in cells],
            "trades": [s.trades for s in scores],
            "net_pnl": [s.net_pnl for s in scores],
            "net_return": [s.net_return for s in scores],
            "sharpe": [s.sharpe for s in scores],
            "sortino": [s.sortino for s in scores],
            "max_drawdown": [s.max_drawdown for s in scores],
            "hit_rate": [s.hit_rate for s in scores],
            "turnover": [s.turnover for s in scores],
            "capital_utilisation": [s.capital_utilisation for s in scores],
            "bucket_net_bps": [json.dumps(s.bucket_net_bps) for s in scores],
            "kill_switch_trips": [s.kill_switch_trips for s in scores],
        },
    )


def _save_trades(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    cell_id: str,
    fold_trades: list[tuple[int, ClosedTrade]],
) -> None:
    trades = [trade for _, trade in fold_trades]
    append(
        con,
        "backtest_trades",
        {
            "run_id": [run_id] * len(trades),
            "cell_id": [cell_id] * len(trades),
            "fold": [fold for fold, _ in fold_trades],
            "execution": [BACKTEST] * len(trades),
            **trade_columns(trades),
        },
    )


def latest_search(con: duckdb.DuckDBPyConnection) -> SearchRecord | None:
    """The most recent threshold search, adopted or not."""
    rows = con.execute(
        "SELECT run_id, created_at, adopted, reason, min_favourite_price, min_edge,"
        " kelly_fraction, min_seconds_to_close, max_seconds_to_close, order_style,"
        " thresholds_id FROM backtest_runs ORDER BY created_at DESC, rowid DESC LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    run_id, created_at, adopted, reason, price, *values, style, thresholds_id = rows[0]
    thresholds = StrategyThresholds(Decimal(price).normalize(), *values)
    return SearchRecord(run_id, created_at, adopted, reason, thresholds, style, thresholds_id)


def backtest_trade_count(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    row = con.execute("SELECT count(*) FROM backtest_trades WHERE run_id = ?", [run_id]).fetchone()
    return int(row[0]) if row else 0
