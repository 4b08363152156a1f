"""Reconciliation: make local state match the exchange before anything new is decided.

Run by `reconcile_job` and at the start of every trading cycle. Orders whose outcome we do not
know are resolved by client_order_id first; then fills and settlements are pulled, positions
and closed trades are rebuilt from them, and compared with the exchange's own positions. Every
correction is written to `reconciliation_log`. In paper mode nothing is sent, so the exchange
is only asked how paper positions' markets settled.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb

from flb_pipeline.core.fees import schedule_for
from flb_pipeline.core.ledger import (
    ClosedTrade,
    Ledger,
    Lot,
    build_ledger,
    net_contracts,
    paper_settlement,
    position_mismatches,
    with_fees,
)
from flb_pipeline.core.records import ExchangeOrder, Fill, MarketPosition, Settlement, count_of
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.exchange.errors import RequestRejected
from flb_pipeline.exchange.schema import series_ticker_of
from flb_pipeline.store.decisions import save_capital_mark
from flb_pipeline.store.ledger import (
    PENDING,
    MarketRecords,
    append_closed_trades,
    append_fills,
    append_settlements,
    drop_unknown_fills,
    latest_fill_time,
    latest_settlement_time,
    load_fills,
    load_settlements,
    log_reconciliation,
    markets_to_replay,
    open_cost,
    order_contexts,
    positions_frame,
    positions_mark_value,
    realised_pnl,
    record_closed_out_markets,
    refresh_market_marks,
    replace_positions,
    resting_orders,
    unresolved_orders,
    update_order,
)
from flb_pipeline.store.series import fee_schedules

FETCH_OVERLAP = timedelta(hours=1)
UNSENT_AFTER = timedelta(seconds=60)
EXCHANGE, PAPER = "exchange", "paper"


@dataclass(frozen=True)
class Replay:
    """A rebuilt ledger and the records of the markets it replayed."""

    ledger: Ledger
    markets: list[MarketRecords]

    def closed_out(self) -> list[MarketRecords]:
        """The replayed markets the ledger left with no open lot, as they were replayed."""
        closed_out = self.ledger.closed_out_markets
        return [market for market in self.markets if market.ticker in closed_out]


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
        resolved = resolve_unknown_orders(client, con, now) + refresh_resting_orders(
            client, con, now
        )
        new_fills = append_fills(
            con, exchange_fills(client, con, min_ts=_since(latest_fill_time(con, EXCHANGE))),
            EXCHANGE,
        )  # fmt: skip
        settled = client.settlements(min_ts=_since(latest_settlement_time(con, EXCHANGE)))
        new_settlements = append_settlements(con, settled, EXCHANGE)
    else:
        resolved, new_fills = 0, 0
        new_settlements = append_settlements(con, _paper_settlements(client, con), PAPER)
    replay = _rebuild(con, execution)
    corrections = 0
    if execution == EXCHANGE:
        corrections, replay = _match_exchange_positions(client, con, replay, now)
    new_trades = append_closed_trades(con, replay.ledger.closed_trades, execution)
    record_closed_out_markets(con, execution, replay.closed_out(), now)
    if execution == EXCHANGE:
        balance = client.balance().balance
    else:  # after the trades are stored: a lot that just closed counts once, as realised
        balance = paper_capital + realised_pnl(con, PAPER) - open_cost(con, PAPER)
    refresh_market_marks(con)
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
            _record_exchange_order(con, client_order_id, order, now)
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


def refresh_resting_orders(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, now: datetime
) -> int:
    """Bring resting (maker) orders up to date: partly filled, executed or canceled since."""
    resting = resting_orders(con, EXCHANGE)
    refreshed = 0
    for ticker in sorted(set(resting["ticker"])):
        at_exchange = {o.client_order_id: o for o in client.orders(ticker=ticker)}
        for row in resting[resting["ticker"] == ticker].itertuples():
            order = at_exchange.get(row.client_order_id)
            if order is not None:
                _record_exchange_order(con, row.client_order_id, order, now)
                refreshed += 1
    return refreshed


def cancel_stale_orders(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, scan_id: str, now: datetime
) -> int:
    """Cancel resting orders left by earlier cycles: their decision is stale, and a new
    cycle must not stack fresh orders on top of old ones."""
    cancelled = 0
    for row in resting_orders(con, EXCHANGE).itertuples():
        if row.scan_id == scan_id:
            continue
        try:
            order = client.cancel_order(row.order_id)
        except RequestRejected:
            order = client.find_order(row.client_order_id, row.ticker)
            if order is None:
                continue
        _record_exchange_order(con, row.client_order_id, order, now)
        cancelled += 1
    return cancelled


def _record_exchange_order(
    con: duckdb.DuckDBPyConnection, client_order_id: str, order: ExchangeOrder, now: datetime
) -> None:
    update_order(
        con, client_order_id, status=order.status, at=now, order_id=order.order_id,
        filled_contracts=order.filled_contracts, fees=order.fees,
    )  # fmt: skip


def exchange_fills(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    *,
    min_ts: int | None = None,
    ticker: str | None = None,
) -> list[Fill]:
    """The exchange's fills, every one with its fee: where the exchange did not report it,
    the fee its schedule charges. Every path that stores fills comes through here."""
    schedules = fee_schedules(con)
    return with_fees(
        client.fills(min_ts=min_ts, ticker=ticker),
        lambda market: schedule_for(schedules, series_ticker_of(market)),
    )


def _since(latest: datetime | None) -> int | None:
    return int((latest - FETCH_OVERLAP).timestamp()) if latest else None


def _rebuild(con: duckdb.DuckDBPyConnection, execution: str) -> Replay:
    """Replay every market whose trades can have changed and store its open lots as the
    positions. Closed-out markets are not replayed: their trades are already stored, so a
    cycle's work follows the open book, not the length of the history."""
    markets = markets_to_replay(con, execution)
    tickers = [market.ticker for market in markets]
    ledger = build_ledger(
        load_fills(con, execution, tickers),
        order_contexts(con, execution, tickers),
        load_settlements(con, execution, tickers),
    )
    replace_positions(con, execution, ledger.open_lots)
    return Replay(ledger, markets)


def _paper_settlements(client: KalshiClient, con: duckdb.DuckDBPyConnection) -> list[Settlement]:
    """Paper positions settle when their markets do; we only ask the exchange for results."""
    open_lots = positions_frame(con, PAPER)
    if open_lots.empty:
        return []
    statuses = client.market_statuses(sorted(set(open_lots["ticker"])))
    settlements = []
    for ticker, lots in open_lots.groupby("ticker"):
        status, result, close_time = statuses.get(str(ticker), ("", "", None))
        if status in ("settled", "finalized") and result and close_time is not None:
            held = zip(lots["side"], map(count_of, lots["contracts"]), lots["cost"], strict=True)
            settlements.append(paper_settlement(str(ticker), held, result, close_time))
    return settlements


def _match_exchange_positions(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, replay: Replay, now: datetime
) -> tuple[int, Replay]:
    """Make our positions the exchange's: first by repairing our fills of a market that
    differs (dropping fills the exchange does not know, adding those we missed), then, where
    fills still cannot explain the exchange, by adopting its position. Each step is logged."""
    theirs = {p.ticker: p for p in client.positions() if p.position}
    exchange_net = {ticker: p.position for ticker, p in theirs.items()}
    mismatched = position_mismatches(net_contracts(replay.ledger.open_lots), exchange_net)
    if not mismatched:
        return 0, replay
    for ticker, ours, _ in mismatched:
        _repair_fills(client, con, ticker, ours, now)
    replay = _rebuild(con, EXCHANGE)
    open_lots = replay.ledger.open_lots
    remaining = position_mismatches(net_contracts(open_lots), exchange_net)
    if remaining:
        lots = [lot for lot in open_lots if lot.ticker not in {t for t, _, _ in remaining}]
        lots += [_exchange_lot(theirs[t], now) for t, _, _ in remaining if t in theirs]
        replace_positions(con, EXCHANGE, lots, source="exchange")
        for ticker, ours, exchange in remaining:
            log_reconciliation(
                con, at=now, execution=EXCHANGE, kind="position", ticker=ticker,
                local_value=str(ours), exchange_value=str(exchange),
                action="adopted the exchange position",
            )  # fmt: skip
    return len(mismatched), replay


def _repair_fills(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, ticker: str, ours: int, now: datetime
) -> None:
    fills = exchange_fills(client, con, ticker=ticker)
    known = {fill.fill_id for fill in fills}
    dropped = drop_unknown_fills(con, EXCHANGE, ticker, known)
    added = append_fills(con, fills, EXCHANGE)
    if dropped or added:
        log_reconciliation(
            con, at=now, execution=EXCHANGE, kind="fills", ticker=ticker,
            local_value=str(ours), exchange_value=f"{len(known)} fills",
            action=f"dropped {len(dropped)} unknown fill(s), added {added} missing",
        )  # fmt: skip


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
