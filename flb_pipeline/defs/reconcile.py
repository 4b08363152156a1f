"""Reconciliation: make local state match the exchange before anything new is decided.

Run by `reconcile_job` and at the start of every trading cycle. Orders whose outcome we do not
know are resolved by client_order_id first; then fills and settlements are pulled, positions
and closed trades are rebuilt from them, and compared with the exchange's own positions. Every
correction is written to `reconciliation_log`. In paper mode nothing is sent, so the exchange
is only asked how paper positions' markets settled.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb

from flb_pipeline.core.ledger import ClosedTrade, Ledger, Lot, build_ledger
from flb_pipeline.core.records import MarketPosition, Settlement
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.store.decisions import save_capital_mark
from flb_pipeline.store.ledger import (
    PENDING,
    append_closed_trades,
    append_fills,
    append_settlements,
    latest_fill_time,
    latest_settlement_time,
    load_fills,
    load_settlements,
    log_reconciliation,
    open_cost,
    order_contexts,
    positions_frame,
    positions_mark_value,
    realised_pnl,
    replace_positions,
    unresolved_orders,
    update_order,
)

FETCH_OVERLAP = timedelta(hours=1)
UNSENT_AFTER = timedelta(seconds=60)
EXCHANGE, PAPER = "exchange", "paper"


@dataclass(frozen=True)
class ReconcileSummary:
    execution: str
    resolved_orders: int
    new_fills: int
    new_settlements: int
    corrections: int
    open_lots: int
    new_closed_trades: list[ClosedTrade]
    balance: Decimal
    positions_value: Decimal

    @property
    def capital(self) -> Decimal:
        return self.balance + self.positions_value


def reconcile(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    *,
    execution: str,
    now: datetime,
    paper_capital: Decimal,
    scan_id: str | None = None,
) -> ReconcileSummary:
    """Bring the ledger up to date and record the capital it implies (`capital_marks`)."""
    if execution == EXCHANGE:
        resolved = resolve_unknown_orders(client, con, now)
        new_fills = append_fills(
            con, client.fills(min_ts=_since(latest_fill_time(con, EXCHANGE))), EXCHANGE
        )
        settled = client.settlements(min_ts=_since(latest_settlement_time(con, EXCHANGE)))
        new_settlements = append_settlements(con, settled, EXCHANGE)
    else:
        resolved, new_fills = 0, 0
        new_settlements = append_settlements(con, _paper_settlements(client, con, now), PAPER)
    ledger = _rebuild(con, execution)
    new_trades = append_closed_trades(con, ledger.closed_trades, execution)
    corrections = 0
    if execution == EXCHANGE:
        corrections = _match_exchange_positions(con, ledger, client.positions(), now)
        balance = client.balance().balance
    else:
        balance = paper_capital + realised_pnl(con, PAPER) - open_cost(con, PAPER)
    positions_value = positions_mark_value(con, execution)
    save_capital_mark(
        con, marked_at=now, scan_id=scan_id, execution=execution, balance=balance,
        positions_value=positions_value,
    )  # fmt: skip
    return ReconcileSummary(
        execution=execution,
        resolved_orders=resolved,
        new_fills=new_fills,
        new_settlements=new_settlements,
        corrections=corrections,
        open_lots=len(positions_frame(con, execution)),
        new_closed_trades=new_trades,
        balance=balance,
        positions_value=positions_value,
    )


def resolve_unknown_orders(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, now: datetime
) -> int:
    """Ask the exchange about every order we sent without learning its fate."""
    resolved = 0
    for client_order_id, ticker, status, created_at in unresolved_orders(con, EXCHANGE):
        order = client.find_order(client_order_id, ticker)
        if order is not None:
            update_order(
                con, client_order_id, status=order.status, at=now, order_id=order.order_id,
                filled_contracts=order.filled_contracts, fees=order.fees,
            )  # fmt: skip
        elif status == PENDING and now - created_at < UNSENT_AFTER:
            continue
        else:
            update_order(
                con, client_order_id, status="not_placed", at=now,
                reject_reason="the exchange has no order with this client_order_id",
            )  # fmt: skip
        log_reconciliation(
            con, at=now, execution=EXCHANGE, kind="order", ticker=ticker,
            local_value=status, exchange_value=order.status if order else "absent",
            action=f"resolved {client_order_id}",
        )  # fmt: skip
        resolved += 1
    return resolved


def _since(latest: datetime | None) -> int | None:
    return int((latest - FETCH_OVERLAP).timestamp()) if latest else None


def _rebuild(con: duckdb.DuckDBPyConnection, execution: str) -> Ledger:
    ledger = build_ledger(
        load_fills(con, execution), order_contexts(con, execution), load_settlements(con, execution)
    )
    replace_positions(con, execution, ledger.open_lots)
    return ledger


def _paper_settlements(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, now: datetime
) -> list[Settlement]:
    """Paper positions settle when their markets do; we only ask the exchange for results."""
    open_lots = positions_frame(con, PAPER)
    if open_lots.empty:
        return []
    statuses = client.market_statuses(sorted(set(open_lots["ticker"])))
    settlements = []
    for ticker, lots in open_lots.groupby("ticker"):
        status, result = statuses.get(ticker, ("", ""))
        if status not in ("settled", "finalized") or not result:
            continue
        yes = lots[lots["side"] == "yes"]
        no = lots[lots["side"] == "no"]
        winners = yes if result == "yes" else no
        settlements.append(
            Settlement(
                ticker=str(ticker),
                event_ticker="",
                result=result,
                yes_contracts=int(yes["contracts"].sum()),
                no_contracts=int(no["contracts"].sum()),
                yes_total_cost=Decimal(yes["cost"].sum()),
                no_total_cost=Decimal(no["cost"].sum()),
                revenue=Decimal(int(winners["contracts"].sum())),
                settled_time=now,
            )
        )
    return settlements


def _match_exchange_positions(
    con: duckdb.DuckDBPyConnection,
    ledger: Ledger,
    exchange_positions: list[MarketPosition],
    now: datetime,
) -> int:
    """Where our net contracts differ from the exchange's, adopt the exchange's and log it."""
    local = _net_contracts(ledger.open_lots)
    remote = {p.ticker: p for p in exchange_positions if p.position != 0}
    corrected_lots = list(ledger.open_lots)
    corrections = 0
    for ticker in sorted(set(local) | set(remote)):
        theirs = remote[ticker].position if ticker in remote else 0
        if local.get(ticker, 0) == theirs:
            continue
        corrections += 1
        corrected_lots = [lot for lot in corrected_lots if lot.ticker != ticker]
        if ticker in remote:
            corrected_lots.append(_exchange_lot(remote[ticker], now))
        log_reconciliation(
            con, at=now, execution=EXCHANGE, kind="position", ticker=ticker,
            local_value=str(local.get(ticker, 0)), exchange_value=str(theirs),
            action="adopted the exchange position",
        )  # fmt: skip
    if corrections:
        replace_positions(con, EXCHANGE, corrected_lots, source="exchange")
    return corrections


def _net_contracts(lots: list[Lot]) -> dict[str, int]:
    net: dict[str, int] = defaultdict(int)
    for lot in lots:
        net[lot.ticker] += lot.contracts if lot.side == "yes" else -lot.contracts
    return {ticker: contracts for ticker, contracts in net.items() if contracts}


def _exchange_lot(position: MarketPosition, now: datetime) -> Lot:
    return Lot(
        order_id=f"exchange:{position.ticker}",
        ticker=position.ticker,
        side="yes" if position.position > 0 else "no",
        contracts=abs(position.position),
        cost=position.market_exposure,
        fees=position.fees_paid,
        opened_at=now,
        context=None,
    )
