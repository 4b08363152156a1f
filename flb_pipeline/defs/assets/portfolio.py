"""Positions and closed trades: the exchange's record made ours, and the trade log."""

import dagster as dg

from flb_pipeline.core.records import count_of
from flb_pipeline.defs.assets.execution import order_submissions
from flb_pipeline.defs.metadata import count_metadata
from flb_pipeline.defs.reconcile import reconcile
from flb_pipeline.defs.resources import (
    ClockResource,
    ExchangeResource,
    ReportsResource,
    StoreResource,
    TradingResource,
)
from flb_pipeline.defs.session import DUCKDB_POOL, exchange_session, mode_or_fail
from flb_pipeline.reports.exports import sync_trade_log
from flb_pipeline.reports.tables import markdown_table
from flb_pipeline.store.ledger import closed_trades_frame, positions_frame

TRADE_LOG = "trades_log.csv"
POSITION_COLUMNS = ("ticker", "side", "contracts", "cost", "fees", "group_id")
TRADE_COLUMNS = ("ticker", "side", "contracts", "entry_price", "result", "net_pnl")


@dg.asset(
    deps=[order_submissions],
    pool=DUCKDB_POOL,
    group_name="execution",
    kinds={"kalshi", "duckdb"},
    description="Open positions, reconciled with the exchange's fills, settlements, positions.",
)
def positions(
    context: dg.AssetExecutionContext,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
    trading: TradingResource,
) -> dg.MaterializeResult:
    mode = mode_or_fail(context, exchange)
    now = clock.now()
    with (
        exchange_session(context, exchange, store, clock, activity="reconciliation") as client,
        store.store().connect() as con,
    ):
        summary = reconcile(
            client, con, execution=mode.execution, now=now,
            paper_capital=trading.paper_capital(),
        )  # fmt: skip
        open_lots = positions_frame(con, mode.execution)
    if summary.corrections:
        context.log.warning(f"reconciliation corrected {summary.corrections} position(s)")
    return dg.MaterializeResult(
        metadata={
            "execution": mode.execution,
            "open_lots": dg.MetadataValue.int(len(open_lots)),
            "open_contracts": count_metadata(count_of(open_lots["contracts"].sum())),
            "open_cost": dg.MetadataValue.float(
                float(open_lots["cost"].sum() + open_lots["fees"].sum())
            ),
            "capital": dg.MetadataValue.float(float(summary.capital)),
            "balance": dg.MetadataValue.float(float(summary.balance)),
            "positions_value": dg.MetadataValue.float(float(summary.positions_value)),
            "resolved_orders": dg.MetadataValue.int(summary.resolved_orders),
            "new_fills": dg.MetadataValue.int(summary.new_fills),
            "new_settlements": dg.MetadataValue.int(summary.new_settlements),
            "corrections": dg.MetadataValue.int(summary.corrections),
            "new_closed_trades": dg.MetadataValue.int(len(summary.new_closed_trades)),
            "positions": dg.MetadataValue.md(markdown_table(open_lots.head(20), POSITION_COLUMNS)),
        }
    )


@dg.asset(
    deps=[positions],
    pool=DUCKDB_POOL,
    group_name="execution",
    kinds={"duckdb", "csv"},
    description="Every closed trade with exact P&L; mirrored to data/exports/trades_log.csv.",
)
def closed_trades(
    context: dg.AssetExecutionContext,
    store: StoreResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    with store.store().connect() as con:
        trades = closed_trades_frame(con)
    log_path = reports.exports() / TRADE_LOG
    update = sync_trade_log(log_path, trades)
    if update.rebuilt:
        context.log.warning(f"{log_path} was {update.reason}: rebuilt from closed_trades")
    return dg.MaterializeResult(
        metadata={
            "trades": dg.MetadataValue.int(len(trades)),
            "net_pnl": dg.MetadataValue.float(
                float(trades["net_pnl"].sum()) if len(trades) else 0.0
            ),
            "wins": dg.MetadataValue.int(
                int((trades["result"] == "win").sum()) if len(trades) else 0
            ),
            "trade_log": dg.MetadataValue.path(str(log_path.resolve())),
            "trade_log_appended": dg.MetadataValue.int(update.appended),
            "trade_log_rebuilt": dg.MetadataValue.bool(update.rebuilt),
            "latest": dg.MetadataValue.md(markdown_table(trades.tail(15), TRADE_COLUMNS)),
        }
    )
