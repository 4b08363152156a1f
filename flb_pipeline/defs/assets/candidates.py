"""trade_candidates: the FLB decisions for one scan, sized under the exposure caps.

The cycle starts by reconciling with the exchange, so capital and open exposure are today's;
it then screens both sides of every market, fetches order books only for the best few
opportunities (a full-universe book fetch is not a scan on Kalshi's rate limits) and sizes
them, best edge first.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd

from flb_pipeline.core.calibration import WinProbabilityModel
from flb_pipeline.core.cycle import CycleInputs, decide_cycle
from flb_pipeline.core.fees import schedules_of
from flb_pipeline.core.modes import TradingMode
from flb_pipeline.core.sizing import ExposureBook
from flb_pipeline.core.strategy import (
    Candidate,
    DepthMap,
    Opportunity,
    StrategyThresholds,
    depth_within_limit,
    exclusion_counts,
)
from flb_pipeline.defs.assets.model import win_probability_model
from flb_pipeline.defs.exposure import exposure_book
from flb_pipeline.defs.quality_checks import require_clean_scan
from flb_pipeline.defs.reconcile import ReconcileSummary, reconcile
from flb_pipeline.defs.resources import (
    ClockResource,
    ExchangeResource,
    RiskResource,
    StoreResource,
    TradingResource,
)
from flb_pipeline.defs.session import DUCKDB_POOL, exchange_session, mode_or_fail
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.exchange.errors import ExchangeError
from flb_pipeline.reports.tables import markdown_table
from flb_pipeline.store.decisions import (
    candidates_frame,
    load_groups,
    load_thresholds,
    save_candidates,
    save_exclusions,
)
from flb_pipeline.store.exchange_state import record_exchange_state
from flb_pipeline.store.ledger import open_holdings, save_order_books
from flb_pipeline.store.models import latest_model
from flb_pipeline.store.series import fee_book, load_series, unknown_events, upsert_events
from flb_pipeline.store.snapshots import snapshot_quotes

TOP_SHOWN = 15
SHOWN = (
    "ticker", "side", "price", "win_probability", "edge", "contracts", "cost", "binding_cap",
    "group_id",
)  # fmt: skip


@dataclass(frozen=True)
class Cycle:
    """Everything one decision needs that is not the store itself."""

    scan_id: str
    mode: TradingMode
    now: datetime
    capital: Decimal
    model: WinProbabilityModel
    thresholds: StrategyThresholds
    risk: RiskResource
    trading: TradingResource


@dataclass(frozen=True)
class Decision:
    candidates: list[Candidate]
    exclusions: dict[str, int]
    markets: int
    opportunities: int


@dg.asset(
    deps=[win_probability_model],
    pool=DUCKDB_POOL,
    group_name="decisions",
    kinds={"duckdb"},
    description="Sized FLB candidates for one scan, each with the cap that bound it.",
)
def trade_candidates(
    context: dg.AssetExecutionContext,
    market_snapshots: str,
    correlation_groups: str,
    strategy_thresholds: str,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
    risk: RiskResource,
    trading: TradingResource,
) -> dg.Output[str]:
    mode = mode_or_fail(context, exchange)
    now = clock.now()
    with (
        exchange_session(context, exchange, store, clock, activity="trade candidates") as client,
        store.store().connect() as con,
    ):
        require_clean_scan(context, con, market_snapshots)
        summary = reconcile(
            client, con, execution=mode.execution, now=now,
            paper_capital=trading.paper_capital(), scan_id=market_snapshots,
        )  # fmt: skip
        _read_exchange_state(context, client, con, market_snapshots, now)
        cycle = Cycle(
            scan_id=market_snapshots,
            mode=mode,
            now=now,
            capital=summary.capital,
            model=_model_or_fail(context, con),
            thresholds=load_thresholds(con, strategy_thresholds).thresholds,
            risk=risk,
            trading=trading,
        )
        decision = _decide(client, con, cycle, strategy_thresholds)
        frame = candidates_frame(con, market_snapshots)
    metadata = _metadata(cycle, strategy_thresholds, summary, decision, frame)
    return dg.Output(market_snapshots, metadata=metadata)


def _read_exchange_state(
    context: dg.AssetExecutionContext,
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    now: datetime,
) -> None:
    """Whether the exchange takes orders, recorded for the exchange_pause check; when it
    cannot be read nothing is recorded and that check fails closed."""
    try:
        record_exchange_state(
            con, scan_id, client.exchange_state(), client.maintenance_windows(), now
        )
    except ExchangeError as error:
        context.log.warning(
            f"exchange status not read ({error.error_class}: {error}); exchange_pause fails",
            extra={"scan_id": scan_id},
        )


def _model_or_fail(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection
) -> WinProbabilityModel:
    model = latest_model(con)
    if model is None:
        message = "no win-probability model yet: materialise win_probability_model first"
        context.log.error(message)
        raise dg.Failure(description=message)
    return model


def _decide(
    client: KalshiClient, con: duckdb.DuckDBPyConnection, cycle: Cycle, thresholds_id: str
) -> Decision:
    quotes = snapshot_quotes(con, cycle.scan_id)
    groups = load_groups(con, cycle.scan_id)
    series = load_series(con)
    schedules = schedules_of(series)
    inputs = CycleInputs(
        quotes, groups, series, fee_book(con), cycle.model, cycle.now, cycle.capital,
        cycle.thresholds, cycle.risk.caps(), cycle.trading.max_orders_per_cycle,
    )  # fmt: skip

    def exposure_of(chosen: Sequence[Opportunity]) -> ExposureBook:
        _learn_events(client, con, cycle, chosen)
        return exposure_book(con, cycle.mode.execution, groups, schedules)

    decision = decide_cycle(
        inputs, lambda chosen: _book_depth(client, con, cycle, chosen), exposure_of
    )
    counts = exclusion_counts(decision.exclusions)
    save_candidates(
        con, cycle.scan_id, decision.candidates, model_id=cycle.model.model_id,
        thresholds_id=thresholds_id, decided_at=cycle.now,
        quote_ts={q.ticker: q.quote_ts for q in quotes},
    )  # fmt: skip
    save_exclusions(con, cycle.scan_id, counts)
    return Decision(decision.candidates, counts, decision.markets, decision.opportunities)


def _learn_events(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    cycle: Cycle,
    chosen: Sequence[Opportunity],
) -> None:
    """Which events of the orders we may send and the lots we hold are mutually exclusive:
    worst-case exposure depends on it. Only these few are fetched."""
    tickers = {o.context.quote.event_ticker for o in chosen}
    held = open_holdings(con, cycle.mode.execution)["event_ticker"]
    tickers |= {event for event in held if event}
    unknown = unknown_events(con, sorted(tickers))
    if unknown:
        upsert_events(con, client.events_of(unknown), cycle.now)


def _book_depth(
    client: KalshiClient,
    con: duckdb.DuckDBPyConnection,
    cycle: Cycle,
    chosen: Sequence[Opportunity],
) -> DepthMap | None:
    """Contracts offered at or below each order's limit price, from freshly fetched books.

    Resting maker orders take no liquidity, so their size is not limited by depth.
    """
    if cycle.trading.order_style != "taker" or not chosen:
        return None
    tickers = sorted({o.context.quote.ticker for o in chosen})
    books = client.order_books(tickers, depth=cycle.trading.book_depth)
    save_order_books(con, cycle.scan_id, books, cycle.now)
    return depth_within_limit(chosen, books, cycle.trading.limit_slippage_cents)


def _metadata(
    cycle: Cycle,
    thresholds_id: str,
    summary: ReconcileSummary,
    decision: Decision,
    frame: pd.DataFrame,
) -> dict[str, dg.MetadataValue | str]:
    return {
        "scan_id": cycle.scan_id,
        "execution": cycle.mode.execution,
        "model_id": cycle.model.model_id,
        "thresholds_id": thresholds_id,
        "capital": dg.MetadataValue.float(float(cycle.capital)),
        "balance": dg.MetadataValue.float(float(summary.balance)),
        "positions_value": dg.MetadataValue.float(float(summary.positions_value)),
        "markets": dg.MetadataValue.int(decision.markets),
        "opportunities": dg.MetadataValue.int(decision.opportunities),
        "candidates": dg.MetadataValue.int(len(decision.candidates)),
        "candidate_cost": dg.MetadataValue.float(float(sum(c.cost for c in decision.candidates))),
        "exclusions": dg.MetadataValue.json(decision.exclusions),
        "reconciliation": dg.MetadataValue.json(
            {
                "resolved_orders": summary.resolved_orders,
                "new_fills": summary.new_fills,
                "new_settlements": summary.new_settlements,
                "corrections": summary.corrections,
                "new_closed_trades": len(summary.new_closed_trades),
                "open_lots": summary.open_lots,
            }
        ),
        "risk_parameters": dg.MetadataValue.json(cycle.risk.model_dump()),
        "top_candidates": dg.MetadataValue.md(markdown_table(frame.head(TOP_SHOWN), SHOWN)),
    }
