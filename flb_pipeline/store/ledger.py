"""Orders, fills, settlements and the positions and closed trades rebuilt from them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

from flb_pipeline.core.ledger import ClosedTrade, Lot, OrderContext
from flb_pipeline.core.records import BookLevel, Count, Fill, OrderBook, Settlement, count_of
from flb_pipeline.store.bulk import append, counts, exact_frame, money, prices, timestamps

PENDING, UNKNOWN = "pending", "unknown"
DROPPED = "dropped"
"""Recorded, then stopped at the entry gate just before sending: never reached the exchange."""
UNRESOLVED = (PENDING, UNKNOWN)


@dataclass(frozen=True)
class OrderRecord:
    """Our side of an order: the decision behind it and what became of it."""

    client_order_id: str
    execution: str
    scan_id: str
    ticker: str
    event_ticker: str
    side: str
    action: str
    contracts: Count
    limit_price: Decimal
    decision_price: Decimal
    win_probability: float
    family: str
    group_id: str
    time_in_force: str
    model_id: str
    thresholds_id: str
    check_results: Mapping[str, object]
    quote_ts: datetime | None = None
    """When the quote this order is priced on was received."""


def record_order_intent(con: duckdb.DuckDBPyConnection, order: OrderRecord, at: datetime) -> bool:
    """Write-ahead: the intent lands as `pending` before anything is sent.

    Returns False if this client_order_id was already recorded (a rerun of the same cycle).
    """
    before = _count(con, "orders")
    con.execute(
        """
        INSERT OR IGNORE INTO orders (client_order_id, execution, scan_id, ticker, event_ticker,
            side, action, contracts, limit_price, decision_price, win_probability, family,
            group_id, time_in_force, status, model_id, thresholds_id, check_results,
            created_at, updated_at, quote_ts)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            order.client_order_id, order.execution, order.scan_id, order.ticker,
            order.event_ticker, order.side, order.action, order.contracts, order.limit_price,
            order.decision_price, order.win_probability, order.family, order.group_id,
            order.time_in_force, PENDING, order.model_id, order.thresholds_id,
            json.dumps(order.check_results, default=str), at, at, order.quote_ts,
        ],
    )  # fmt: skip
    return _count(con, "orders") > before


def update_order(
    con: duckdb.DuckDBPyConnection,
    client_order_id: str,
    *,
    status: str,
    at: datetime,
    order_id: str | None = None,
    filled_contracts: Count | None = None,
    fees: Decimal | None = None,
    reject_code: str | None = None,
    reject_reason: str | None = None,
    sent_at: datetime | None = None,
    order_group_id: str | None = None,
) -> None:
    con.execute(
        """
        UPDATE orders SET status = ?, updated_at = ?,
            order_id = coalesce(?, order_id),
            filled_contracts = coalesce(?, filled_contracts),
            fees = coalesce(?, fees),
            reject_code = coalesce(?, reject_code),
            reject_reason = coalesce(?, reject_reason),
            sent_at = coalesce(?, sent_at),
            order_group_id = coalesce(?, order_group_id)
        WHERE client_order_id = ?
        """,
        [
            status, at, order_id, filled_contracts, fees, reject_code, reject_reason, sent_at,
            order_group_id, client_order_id,
        ],
    )  # fmt: skip


def unresolved_orders(
    con: duckdb.DuckDBPyConnection, execution: str
) -> list[tuple[str, str, str, datetime]]:
    """(client_order_id, ticker, status, created_at) of orders whose outcome is unknown."""
    return con.execute(
        "SELECT client_order_id, ticker, status, created_at FROM orders"
        " WHERE execution = ? AND list_contains(?, status) ORDER BY created_at",
        [execution, list(UNRESOLVED)],
    ).fetchall()


def order_contexts(
    con: duckdb.DuckDBPyConnection, execution: str, tickers: Sequence[str]
) -> dict[str, OrderContext]:
    """The decisions behind our orders in `tickers`, keyed by client_order_id."""
    rows = con.execute(
        "SELECT client_order_id, scan_id, model_id, thresholds_id, decision_price,"
        " win_probability, family, group_id FROM orders"
        " WHERE execution = ? AND ticker IN (SELECT unnest(?::VARCHAR[]))",
        [execution, list(tickers)],
    ).fetchall()
    return {row[0]: OrderContext(*row) for row in rows}


def orders_frame(con: duckdb.DuckDBPyConnection, scan_id: str) -> pd.DataFrame:
    return exact_frame(
        con,
        "SELECT * FROM orders WHERE scan_id = ? ORDER BY created_at, client_order_id",
        [scan_id],
    )


def save_order_books(
    con: duckdb.DuckDBPyConnection, scan_id: str, books: list[OrderBook], fetched_at: datetime
) -> int:
    """The books a cycle decided on, as asks per side: what paper execution fills against."""
    rows = [
        (book.ticker, side, level, ask)
        for book in books
        for side in ("yes", "no")
        for level, ask in enumerate(book.asks(side))
    ]
    return append(
        con,
        "order_books",
        {
            "scan_id": [scan_id] * len(rows),
            "ticker": [r[0] for r in rows],
            "side": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "price": prices(r[3].price for r in rows),
            "contracts": counts(r[3].contracts for r in rows),
            "fetched_at": timestamps([fetched_at] * len(rows)),
        },
        on_conflict="replace",
    )


def load_asks(
    con: duckdb.DuckDBPyConnection, scan_id: str, ticker: str, side: str
) -> list[BookLevel]:
    rows = con.execute(
        "SELECT price, contracts FROM order_books WHERE scan_id = ? AND ticker = ? AND side = ?"
        " ORDER BY level",
        [scan_id, ticker, side],
    ).fetchall()
    return [BookLevel(price, count_of(contracts)) for price, contracts in rows]


def append_fills(con: duckdb.DuckDBPyConnection, fills: list[Fill], execution: str) -> int:
    """Idempotent by fill_id; returns how many were new."""
    before = _count(con, "fills")
    append(
        con,
        "fills",
        {
            "fill_id": [f.fill_id for f in fills],
            "order_id": [f.order_id for f in fills],
            "client_order_id": [f.client_order_id for f in fills],
            "execution": [execution] * len(fills),
            "ticker": [f.ticker for f in fills],
            "side": [f.side for f in fills],
            "action": [f.action for f in fills],
            "contracts": counts(f.contracts for f in fills),
            "price": prices(f.price for f in fills),
            "fee": money(f.fee for f in fills),
            "is_taker": [f.is_taker for f in fills],
            "created_time": timestamps(f.created_time for f in fills),
        },
        on_conflict="ignore",
    )
    return _count(con, "fills") - before


def drop_unknown_fills(
    con: duckdb.DuckDBPyConnection, execution: str, ticker: str, known: set[str]
) -> list[str]:
    """Delete our fills of `ticker` that the exchange does not list; returns their ids."""
    rows = con.execute(
        "DELETE FROM fills WHERE execution = ? AND ticker = ? AND NOT list_contains(?, fill_id)"
        " RETURNING fill_id",
        [execution, ticker, sorted(known)],
    ).fetchall()
    return [row[0] for row in rows]


def load_fills(
    con: duckdb.DuckDBPyConnection, execution: str, tickers: Sequence[str]
) -> list[Fill]:
    rows = con.execute(
        "SELECT fill_id, order_id, client_order_id, ticker, side, action, contracts, price, fee,"
        " is_taker, created_time FROM fills"
        " WHERE execution = ? AND ticker IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY created_time, fill_id",
        [execution, list(tickers)],
    ).fetchall()
    return [Fill(*row[:6], count_of(row[6]), *row[7:]) for row in rows]


def latest_fill_time(con: duckdb.DuckDBPyConnection, execution: str) -> datetime | None:
    return con.execute(
        "SELECT max(created_time) FROM fills WHERE execution = ?", [execution]
    ).fetchall()[0][0]


def append_settlements(
    con: duckdb.DuckDBPyConnection, settlements: list[Settlement], execution: str
) -> int:
    before = _count(con, "settlements")
    s = settlements
    append(
        con,
        "settlements",
        {
            "ticker": [x.ticker for x in s],
            "execution": [execution] * len(s),
            "event_ticker": [x.event_ticker for x in s],
            "result": [x.result for x in s],
            "yes_contracts": counts(x.yes_contracts for x in s),
            "no_contracts": counts(x.no_contracts for x in s),
            "yes_total_cost": money(x.yes_total_cost for x in s),
            "no_total_cost": money(x.no_total_cost for x in s),
            "revenue": money(x.revenue for x in s),
            "settled_time": timestamps(x.settled_time for x in s),
        },
        on_conflict="ignore",
    )
    return _count(con, "settlements") - before


def load_settlements(
    con: duckdb.DuckDBPyConnection, execution: str, tickers: Sequence[str]
) -> list[Settlement]:
    rows = con.execute(
        "SELECT ticker, event_ticker, result, yes_contracts, no_contracts, yes_total_cost,"
        " no_total_cost, revenue, settled_time FROM settlements"
        " WHERE execution = ? AND ticker IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY settled_time, ticker",
        [execution, list(tickers)],
    ).fetchall()
    return [Settlement(*row[:3], count_of(row[3]), count_of(row[4]), *row[5:]) for row in rows]


def latest_settlement_time(con: duckdb.DuckDBPyConnection, execution: str) -> datetime | None:
    return con.execute(
        "SELECT max(settled_time) FROM settlements WHERE execution = ?", [execution]
    ).fetchall()[0][0]


@dataclass(frozen=True)
class MarketRecords:
    """What one market's ledger is replayed from: its fills (their count and an order-free
    digest of their ids) and its settlements. Fills and settlements are insert-only, so a
    market whose records match these has the trades it had. A change to how trades are
    replayed must clear `closed_out_markets` in a migration, or closed-out markets keep the
    trades the old rules gave them."""

    ticker: str
    fills: int
    fill_digest: int
    settlements: int


def markets_to_replay(con: duckdb.DuckDBPyConnection, execution: str) -> list[MarketRecords]:
    """Markets whose trades can have changed, with the records they are replayed from: all
    with fills or settlements, except those closed out with exactly the records they have
    now. A fill that arrives late, or one that reconciliation drops, brings its market back.

    The digest is md5 based, so it does not change with DuckDB's own `hash()` between
    releases."""
    rows = con.execute(
        """
        WITH fill_records AS (
            SELECT ticker, count(*) AS fills, bit_xor(md5_number_lower(fill_id)) AS fill_digest
            FROM fills WHERE execution = $execution GROUP BY ticker
        ), settlement_records AS (
            SELECT ticker, count(*) AS settlements
            FROM settlements WHERE execution = $execution GROUP BY ticker
        ), market_records AS (
            SELECT coalesce(f.ticker, s.ticker) AS ticker, coalesce(f.fills, 0) AS fills,
                   coalesce(f.fill_digest, 0) AS fill_digest,
                   coalesce(s.settlements, 0) AS settlements
            FROM fill_records f FULL OUTER JOIN settlement_records s ON f.ticker = s.ticker
        )
        SELECT r.ticker, r.fills, r.fill_digest, r.settlements FROM market_records r
        LEFT JOIN closed_out_markets c ON c.execution = $execution AND c.ticker = r.ticker
        WHERE c.ticker IS NULL OR c.fills <> r.fills OR c.fill_digest <> r.fill_digest
           OR c.settlements <> r.settlements
        ORDER BY r.ticker
        """,
        {"execution": execution},
    ).fetchall()
    return [MarketRecords(*row) for row in rows]


def record_closed_out_markets(
    con: duckdb.DuckDBPyConnection,
    execution: str,
    markets: Sequence[MarketRecords],
    at: datetime,
) -> int:
    """Remember the records `markets` were replayed and closed out with, once their closed
    trades are stored. They are the records read before the replay, never fresh ones, so a
    fill that lands after the replay still brings its market back. A market still holding a
    position (one adopted from the exchange) is never recorded."""
    held = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT ticker FROM positions WHERE execution = ?", [execution]
        ).fetchall()
    }
    closed_out = [m for m in markets if m.ticker not in held]
    return append(
        con,
        "closed_out_markets",
        {
            "execution": [execution] * len(closed_out),
            "ticker": [m.ticker for m in closed_out],
            "fills": [m.fills for m in closed_out],
            "fill_digest": pa.array([m.fill_digest for m in closed_out], pa.uint64()),
            "settlements": [m.settlements for m in closed_out],
            "closed_out_at": timestamps([at] * len(closed_out)),
        },
        on_conflict="replace",
    )


def replace_positions(
    con: duckdb.DuckDBPyConnection, execution: str, lots: list[Lot], source: str = "ledger"
) -> int:
    """The open lots become the positions table for this execution mode."""
    con.execute("DELETE FROM positions WHERE execution = ?", [execution])
    return append(
        con,
        "positions",
        {
            "execution": [execution] * len(lots),
            "order_id": [lot.order_id for lot in lots],
            "ticker": [lot.ticker for lot in lots],
            "side": [lot.side for lot in lots],
            "contracts": counts(lot.contracts for lot in lots),
            "cost": money(lot.cost for lot in lots),
            "fees": money(lot.fees for lot in lots),
            "opened_at": timestamps(lot.opened_at for lot in lots),
            "family": [lot.context.family if lot.context else None for lot in lots],
            "group_id": [lot.context.group_id if lot.context else None for lot in lots],
            "scan_id": [lot.context.scan_id if lot.context else None for lot in lots],
            "model_id": [lot.context.model_id if lot.context else None for lot in lots],
            "source": [source] * len(lots),
        },
    )


def positions_frame(con: duckdb.DuckDBPyConnection, execution: str) -> pd.DataFrame:
    return exact_frame(
        con,
        "SELECT * FROM positions WHERE execution = ? ORDER BY opened_at, order_id",
        [execution],
    )


def append_closed_trades(
    con: duckdb.DuckDBPyConnection, trades: list[ClosedTrade], execution: str
) -> list[ClosedTrade]:
    """Insert the trades not stored yet; returns exactly those (for the CSV trade log)."""
    known = {
        row[0]
        for row in con.execute(
            "SELECT trade_id FROM closed_trades WHERE list_contains(?, trade_id)",
            [[t.trade_id for t in trades]],
        ).fetchall()
    }
    new = [t for t in trades if t.trade_id not in known]
    append(con, "closed_trades", {**trade_columns(new), "execution": [execution] * len(new)})
    return new


def trade_columns(trades: list[ClosedTrade]) -> dict[str, object]:
    t = trades
    return {
        "trade_id": [x.trade_id for x in t],
        "order_id": [x.order_id for x in t],
        "ticker": [x.ticker for x in t],
        "family": [x.family for x in t],
        "group_id": [x.group_id for x in t],
        "side": [x.side for x in t],
        "entry_price": prices(x.entry_price for x in t),
        "decision_price": prices(x.decision_price for x in t),
        "contracts": counts(x.contracts for x in t),
        "cost": money(x.cost for x in t),
        "fees": money(x.fees for x in t),
        "slippage_bps": [x.slippage_bps for x in t],
        "result": [x.result for x in t],
        "gross_pnl": money(x.gross_pnl for x in t),
        "net_pnl": money(x.net_pnl for x in t),
        "opened_at": timestamps(x.opened_at for x in t),
        "closed_at": timestamps(x.closed_at for x in t),
        "holding_period_s": [x.holding_period_s for x in t],
        "model_id": [x.model_id for x in t],
        "scan_id": [x.scan_id for x in t],
        "win_probability": [x.win_probability for x in t],
        "close_kind": [x.close_kind for x in t],
    }


def closed_trades_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every closed trade of every execution mode, oldest first: the trades log's rows."""
    return exact_frame(con, "SELECT * FROM closed_trades ORDER BY closed_at, trade_id")


def log_reconciliation(
    con: duckdb.DuckDBPyConnection,
    *,
    at: datetime,
    execution: str,
    kind: str,
    ticker: str | None,
    local_value: str,
    exchange_value: str,
    action: str,
) -> None:
    con.execute(
        "INSERT INTO reconciliation_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [at, execution, kind, ticker, local_value, exchange_value, action],
    )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def refresh_market_marks(con: duckdb.DuckDBPyConnection) -> int:
    """Remember the latest complete scan's quotes of every market we hold.

    A market leaves the listing when it closes, hours before it may settle; its lots are
    then marked at the last bid recorded here, never at zero. A side whose bid is missing
    in this scan keeps its last recorded bid.
    """
    return con.execute(
        """
        INSERT OR REPLACE INTO market_marks
        SELECT s.ticker, s.event_ticker, coalesce(s.yes_bid, m.yes_bid),
               coalesce(s.no_bid, m.no_bid), s.scan_id, s.snapshot_ts
        FROM market_snapshots s LEFT JOIN market_marks m ON m.ticker = s.ticker
        WHERE s.scan_id = (
                SELECT scan_id FROM scans WHERE status = 'complete' ORDER BY rowid DESC LIMIT 1)
          AND s.ticker IN (SELECT ticker FROM positions)
        """
    ).fetchall()[0][0]


def positions_mark_value(con: duckdb.DuckDBPyConnection, execution: str) -> Decimal:
    """Open contracts marked at the last recorded bid of their side (`market_marks`).

    The bid is what they would sell for now. A lot whose market we never saw quoted (a
    position no scan of ours covered) is marked at its cost: unknown is not worthless.
    """
    row = con.execute(
        """
        SELECT coalesce(sum(coalesce(
                   p.contracts * CASE p.side WHEN 'yes' THEN m.yes_bid ELSE m.no_bid END,
                   p.cost)), 0)
        FROM positions p LEFT JOIN market_marks m ON m.ticker = p.ticker
        WHERE p.execution = ?
        """,
        [execution],
    ).fetchall()
    return Decimal(row[0][0] or 0)


def open_holdings(con: duckdb.DuckDBPyConnection, execution: str) -> pd.DataFrame:
    """Open lots with the event they belong to (from our order, else from the market's last
    quote) and the group they were bought in, for exposure caps."""
    return exact_frame(
        con,
        """
        SELECT p.ticker, coalesce(o.event_ticker, m.event_ticker, '') AS event_ticker,
               coalesce(p.group_id, '') AS group_id, p.side, p.contracts,
               p.cost + p.fees AS cost
        FROM positions p LEFT JOIN orders o ON o.order_id = p.order_id
        LEFT JOIN market_marks m ON m.ticker = p.ticker
        WHERE p.execution = ?
        ORDER BY p.opened_at, p.order_id
        """,
        [execution],
    )


def realised_pnl(con: duckdb.DuckDBPyConnection, execution: str) -> Decimal:
    row = con.execute(
        "SELECT coalesce(sum(net_pnl), 0) FROM closed_trades WHERE execution = ?", [execution]
    ).fetchall()
    return Decimal(row[0][0])


def open_cost(con: duckdb.DuckDBPyConnection, execution: str) -> Decimal:
    row = con.execute(
        "SELECT coalesce(sum(cost + fees), 0) FROM positions WHERE execution = ?", [execution]
    ).fetchall()
    return Decimal(row[0][0])


def resting_orders(con: duckdb.DuckDBPyConnection, execution: str) -> pd.DataFrame:
    """Our orders still resting at the exchange (maker style), with what is left of them."""
    return exact_frame(
        con,
        """
        SELECT client_order_id, order_id, scan_id, ticker, event_ticker, group_id, side,
               contracts - filled_contracts AS remaining, limit_price
        FROM orders WHERE execution = ? AND status = 'resting'
        ORDER BY created_at, client_order_id
        """,
        [execution],
    )
