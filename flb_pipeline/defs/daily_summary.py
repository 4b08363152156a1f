"""The daily summary document: every metric of one trading day (docs/ARCHITECTURE.md, Metrics).

Shared by the `daily_metrics_summary` asset and `flb report`; reads the store, computes with
`core.metrics`, returns plain data (written to JSON by `reports.daily`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from flb_pipeline.core import metrics, risk
from flb_pipeline.core.ledger import ClosedTrade, slippage_bps
from flb_pipeline.store.health import (
    api_totals,
    closed_trades_between,
    endpoint_latency,
    fill_prices_between,
    kill_switch_states,
    order_health,
    scan_health,
)
from flb_pipeline.store.risk import risk_events

NO_TRADES = "no trades closed on this day"


@dataclass(frozen=True)
class DailySummary:
    document: dict[str, Any]
    trades: list[ClosedTrade]
    fill_slippage_bps: list[float]

    @property
    def cumulative_pnl(self) -> list[tuple[datetime, Decimal]]:
        return metrics.cumulative_pnl(self.trades)


def build_daily_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    day: str,
    start: datetime,
    end: datetime,
    execution: str,
    timezone: str,
) -> DailySummary:
    trades = closed_trades_between(con, start, end, execution)
    slippages = [
        slippage_bps(fill, decision)
        for fill, decision in fill_prices_between(con, start, end, execution)
    ]
    document = {
        "day": day,
        "timezone": timezone,
        "execution": execution,
        "window": {"start": start, "end": end},
        "note": "" if trades else NO_TRADES,
        "trading": metrics.trading_summary(trades),
        "price_buckets": metrics.entry_price_buckets(trades),
        "attribution": {
            "family": metrics.attribution(trades, lambda t: t.family),
            "group": metrics.attribution(trades, lambda t: t.group_id),
        },
        "slippage": {
            "fills": metrics.slippage_stats(slippages),
            "trades": metrics.slippage_stats(
                [t.slippage_bps for t in trades if t.slippage_bps is not None]
            ),
        },
        "edge": metrics.edge_realisation(trades),
        "outcome_reliability": metrics.outcome_reliability(trades),
        "health": _health(con, start, end, execution),
    }
    return DailySummary(document, trades, slippages)


def _health(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, execution: str
) -> dict[str, Any]:
    api = api_totals(con, start, end)
    scans = scan_health(con, start, end)
    orders = order_health(con, start, end, execution)
    halt = risk.active_halt([e for e in risk_events(con) if e.event_ts < end])
    return {
        "api": {
            **api,
            "error_rate": api["errors"] / api["calls"] if api["calls"] else None,
            "endpoints": endpoint_latency(con, start, end),
        },
        "scans": {
            **scans,
            "scans_per_hour": (
                scans["complete_scans"] / scans["scan_hours"] if scans["scan_hours"] else None
            ),
        },
        "orders": {
            **orders,
            "fill_rate": (
                orders["contracts_filled"] / orders["contracts_ordered"]
                if orders["contracts_ordered"]
                else None
            ),
        },
        "kill_switches": kill_switch_states(con, end),
        "manual_halt": {"since": halt.event_ts, "reason": halt.reason} if halt else None,
    }
