"""The trade log CSV: append-only, one header, never a duplicate row, rebuilt if damaged."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

TRADE_LOG_COLUMNS = (
    "trade_id", "ticker", "family", "group_id", "side", "entry_price", "decision_price",
    "contracts", "fees", "slippage_bps", "result", "gross_pnl", "net_pnl", "opened_at",
    "closed_at", "holding_period_s", "model_id", "scan_id",
)  # fmt: skip


MISSING = "missing"


@dataclass(frozen=True)
class TradeLogUpdate:
    appended: int
    rebuilt: bool
    reason: str


def sync_trade_log(path: Path, closed_trades: pd.DataFrame) -> TradeLogUpdate:
    """Make the CSV hold exactly the rows of `closed_trades`, appending what is missing.

    A file that is missing while the table holds trades, unreadable, has the wrong header or
    holds trades the table does not know is rebuilt from the table, which is the source of
    truth. A missing file with no trade yet is simply created: nothing was lost.
    """
    rows = closed_trades.reindex(columns=list(TRADE_LOG_COLUMNS))
    logged, problem = _logged_trade_ids(path, set(rows["trade_id"]))
    if problem == MISSING and rows.empty:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, rows, mode="w")
        return TradeLogUpdate(0, False, "")
    if problem:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, rows, mode="w")
        return TradeLogUpdate(len(rows), True, problem)
    missing = rows[~rows["trade_id"].isin(logged)]
    if not missing.empty:
        _write(path, missing, mode="a")
    return TradeLogUpdate(len(missing), False, "")


def _logged_trade_ids(path: Path, known: set[str]) -> tuple[set[str], str]:
    if not path.exists():
        return set(), MISSING
    try:
        logged = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        return set(), f"unreadable ({type(error).__name__})"
    if tuple(logged.columns) != TRADE_LOG_COLUMNS:
        return set(), "unexpected header"
    ids = logged["trade_id"]
    if ids.duplicated().any() or not set(ids) <= known:
        return set(), "rows that are duplicated or unknown to closed_trades"
    return set(ids), ""


def _write(path: Path, rows: pd.DataFrame, mode: str) -> None:
    rows.to_csv(path, mode=mode, header=mode == "w", index=False, quoting=csv.QUOTE_MINIMAL)


def jsonable(value: Any) -> Any:
    """Plain JSON values: money as dollars to the ten-thousandth, times in ISO-8601, and no
    NaN anywhere (an undefined ratio is null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return float(value.quantize(Decimal("0.0001")))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    return value


def write_json(path: Path, document: dict[str, Any]) -> Path:
    """Deterministic: sorted keys, fixed indentation, so a rerun writes the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(document), indent=2, sort_keys=True) + "\n")
    return path
