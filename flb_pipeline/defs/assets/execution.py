"""Orders, positions and closed trades.

`order_submissions` sends (or paper-fills) the cycle's candidates, idempotently: every order
is recorded as `pending` before it is sent, under a client_order_id derived from scan, ticker
and side, so a retried or re-executed run resolves what it already sent instead of sending
again. It refuses to send anything for a scan that did not pass its quality checks or whose
cycle's risk checks did not all pass, and just before each POST it re-reads the manual halt
and the age of the quote that order is priced on (`core.risk.entry_gate`): an order that
fails there is recorded as `dropped` with the reason, never sent.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from flb_pipeline.core.execution import order_intent, paper_fills, paper_order_id
from flb_pipeline.core.fees import FeeSchedule, schedule_for
from flb_pipeline.core.modes import TradingMode
from flb_pipeline.core.records import ApiCall, OrderIntent, count_of
from flb_pipeline.core.risk import entry_gate, order_gate
from flb_pipeline.core.ticks import OffTick, PriceLevels
from flb_pipeline.defs.metadata import count_metadata
from flb_pipeline.defs.quality_checks import require_clean_scan
from flb_pipeline.defs.reconcile import (
    EXCHANGE,
    cancel_stale_orders,
    exchange_fills,
    resolve_unknown_orders,
)
from flb_pipeline.defs.resources import (
    ClockResource,
    ExchangeResource,
    RiskResource,
    StoreResource,
    TradingResource,
)
from flb_pipeline.defs.session import DUCKDB_POOL, exchange_session, mode_or_fail
from flb_pipeline.exchange.client import KalshiClient, OrderNotPlaced
from flb_pipeline.exchange.errors import OrderOutcomeUnknown, RequestRejected
from flb_pipeline.exchange.schema import series_ticker_of
from flb_pipeline.reports.tables import markdown_table
from flb_pipeline.store.decisions import candidates_frame
from flb_pipeline.store.halt import read_halt
from flb_pipeline.store.ledger import (
    DROPPED,
    PENDING,
    OrderRecord,
    append_fills,
    load_asks,
    orders_frame,
    record_order_intent,
    update_order,
)
from flb_pipeline.store.risk import verdicts_for
from flb_pipeline.store.series import fee_schedules

ORDER_COLUMNS = (
    "ticker", "side", "contracts", "limit_price", "status", "filled_contracts", "fees",
    "reject_code",
)  # fmt: skip


@dataclass
class Submission:
    """One cycle's order sending: where orders go, what is known, and what happened."""

    client: KalshiClient
    con: duckdb.DuckDBPyConnection
    mode: TradingMode
    scan_id: str
    checks: dict[str, dict[str, Any]]
    trading: TradingResource
    schedules: dict[str, FeeSchedule | None]
    clock: ClockResource
    halt_flag: Path
    max_quote_age: timedelta
    sent: int = 0
    already_recorded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    """ticker -> why its order was dropped at the gate."""
    found_after_failed_post: dict[str, str] = field(default_factory=dict)
    """ticker -> what the exchange shows of an order whose POST failed (e.g. an unusable
    answer) and which the client then found by its client_order_id."""


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="execution",
    kinds={"kalshi", "duckdb"},
    description="The cycle's orders, sent once each (or paper-filled), with their fills.",
)
def order_submissions(
    context: dg.AssetExecutionContext,
    trade_candidates: str,
    exchange: ExchangeResource,
    store: StoreResource,
    clock: ClockResource,
    risk: RiskResource,
    trading: TradingResource,
) -> dg.MaterializeResult:
    scan_id = trade_candidates
    mode = mode_or_fail(context, exchange)
    started = clock.now()
    with (
        exchange_session(context, exchange, store, clock, activity="order submission") as client,
        store.store().connect() as con,
    ):
        require_clean_scan(context, con, scan_id)
        if mode.execution == EXCHANGE:
            resolve_unknown_orders(client, con, started)
            cancel_stale_orders(client, con, scan_id, started)
        checks = _passed_checks_or_fail(context, con, scan_id, started, risk)
        submission = Submission(
            client, con, mode, scan_id, checks, trading, fee_schedules(con), clock,
            store.store().halt_flag, risk.limits().max_quote_age,
        )  # fmt: skip
        for candidate in candidates_frame(con, scan_id).itertuples():
            _submit(submission, candidate)
        if submission.dropped:
            context.log.warning(_dropped_line(submission.dropped), extra={"scan_id": scan_id})
        if submission.found_after_failed_post:
            context.log.warning(
                _found_line(submission.found_after_failed_post), extra={"scan_id": scan_id}
            )
        if mode.execution == EXCHANGE:
            since = int((started - timedelta(minutes=1)).timestamp())
            append_fills(con, exchange_fills(client, con, min_ts=since), EXCHANGE)
        orders = orders_frame(con, scan_id)
    return dg.MaterializeResult(metadata=_order_metadata(submission, orders))


def _dropped_line(dropped: dict[str, str]) -> str:
    """One line for every order the gate dropped, grouped by reason: a halt that stops ten
    orders is one cause, not ten."""
    tickers_by_reason: dict[str, list[str]] = {}
    for ticker, why in dropped.items():
        tickers_by_reason.setdefault(why, []).append(ticker)
    causes = "; ".join(f"{why} ({', '.join(t)})" for why, t in tickers_by_reason.items())
    return f"{len(dropped)} order(s) dropped, not sent: {causes}"


def _found_line(found: dict[str, str]) -> str:
    """One line for the orders whose POST failed but which the exchange turned out to hold:
    nothing is in doubt, but an exchange answering order POSTs so is worth a look."""
    orders = ", ".join(f"{ticker} ({what})" for ticker, what in found.items())
    return (
        f"{len(found)} order(s) whose POST failed were found at the exchange by "
        f"client_order_id, each recorded once: {orders}"
    )


def _passed_checks_or_fail(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    scan_id: str,
    now: datetime,
    risk: RiskResource,
) -> dict[str, dict[str, Any]]:
    """Materialising this asset on its own never sends orders its cycle did not clear."""
    checks = verdicts_for(con, scan_id)
    verdicts = {name: (v["passed"], v["evaluated_at"]) for name, v in checks.items()}
    problem = order_gate(verdicts, now, risk.limits().max_quote_age)
    if problem:
        message = f"refusing to send orders for scan {scan_id}: {problem}"
        context.log.error(message)
        raise dg.Failure(description=message)
    return checks


def _submit(submission: Submission, candidate: pd.Series) -> None:
    intent = _intent_or_drop(submission, candidate)
    if intent is None:
        return
    con, quote_ts = submission.con, _moment(candidate.quote_ts)
    recorded_at = submission.clock.now()
    if not record_order_intent(con, _order_record(intent, submission, candidate), recorded_at):
        submission.already_recorded += 1
        return
    now = submission.clock.now()
    problem = entry_gate(read_halt(submission.halt_flag), quote_ts, now, submission.max_quote_age)
    if problem:
        update_order(con, intent.client_order_id, status=DROPPED, at=now, reject_reason=problem)
        submission.dropped[intent.ticker] = problem
        return
    submission.sent += 1
    if submission.mode.execution == EXCHANGE:
        _send(submission, intent, now)
    else:
        series = series_ticker_of(candidate.event_ticker)
        _paper_fill(submission, intent, schedule_for(submission.schedules, series), now)


def _intent_or_drop(submission: Submission, candidate: pd.Series) -> OrderIntent | None:
    """The order for `candidate` on its market's grid. A price off the grid is our bug: it
    is logged with the tick and the order is never sent."""
    trading = submission.trading
    levels = PriceLevels.from_text(candidate.price_levels)
    try:
        if levels is None:
            raise OffTick(f"no supported price grid recorded ({candidate.price_levels!r})")
        return order_intent(
            submission.scan_id, candidate.ticker, candidate.side, count_of(candidate.contracts),
            Decimal(candidate.price), levels, style=trading.order_style,
            limit_slippage_cents=trading.limit_slippage_cents,
        )  # fmt: skip
    except OffTick as off_tick:
        submission.dropped[candidate.ticker] = f"off-tick price, not sent: {off_tick}"
        return None


def _moment(value: object) -> datetime | None:
    """A frame's timestamp as a datetime (NaT: None)."""
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _order_record(intent: OrderIntent, submission: Submission, candidate: pd.Series) -> OrderRecord:
    return OrderRecord(
        client_order_id=intent.client_order_id,
        execution=submission.mode.execution,
        scan_id=submission.scan_id,
        ticker=intent.ticker,
        event_ticker=candidate.event_ticker,
        side=intent.side,
        action=intent.action,
        contracts=intent.contracts,
        limit_price=intent.limit_price,
        decision_price=Decimal(candidate.price),
        win_probability=float(candidate.win_probability),
        family=candidate.family,
        group_id=candidate.group_id,
        time_in_force=intent.time_in_force,
        model_id=candidate.model_id,
        thresholds_id=candidate.thresholds_id,
        check_results=submission.checks,
        quote_ts=_moment(candidate.quote_ts),
    )


def _send(submission: Submission, intent: OrderIntent, now: datetime) -> None:
    """One POST (retried only with the same id); every outcome lands on the order row."""
    con, cid, client = submission.con, intent.client_order_id, submission.client
    update_order(con, cid, status=PENDING, at=now, sent_at=now)
    attempts_before = len(client.calls)
    try:
        order = client.create_order(intent)
    except RequestRejected as rejected:
        update_order(con, cid, status="rejected", at=now, reject_code=rejected.code,
                     reject_reason=str(rejected))  # fmt: skip
        submission.rejected[rejected.code] = submission.rejected.get(rejected.code, 0) + 1
        return
    except OrderNotPlaced as not_placed:
        update_order(con, cid, status="not_placed", at=now, reject_reason=str(not_placed))
        return
    except OrderOutcomeUnknown:
        update_order(con, cid, status="unknown", at=now)
        raise
    update_order(
        con, cid, status=order.status, at=now, order_id=order.order_id,
        filled_contracts=order.filled_contracts, fees=order.fees,
    )  # fmt: skip
    failures = _failed_posts(client.calls[attempts_before:])
    if failures:
        submission.found_after_failed_post[intent.ticker] = f"{order.status}; POST: {failures}"


def _failed_posts(calls: list[ApiCall]) -> str:
    """The error classes of the POST calls among `calls` that failed after their retries
    (empty: the order's POST was answered)."""
    failed = {c.error_class for c in calls if c.method == "POST" and c.final and c.error_class}
    return ", ".join(sorted(str(error_class) for error_class in failed))


def _paper_fill(
    submission: Submission, intent: OrderIntent, schedule: FeeSchedule, now: datetime
) -> None:
    """Fill against the book recorded with the scan: what the exchange would have done."""
    con = submission.con
    update_order(con, intent.client_order_id, status=PENDING, at=now, sent_at=now)
    asks = load_asks(con, submission.scan_id, intent.ticker, intent.side)
    fills = paper_fills(intent, asks, schedule, now)
    append_fills(con, fills, "paper")
    filled = sum(f.contracts for f in fills)
    update_order(
        con, intent.client_order_id, status="executed" if filled else "canceled", at=now,
        order_id=paper_order_id(intent.client_order_id), filled_contracts=filled,
        fees=sum((f.fee for f in fills), Decimal(0)),
    )  # fmt: skip


def _order_metadata(
    submission: Submission, orders: pd.DataFrame
) -> dict[str, dg.MetadataValue | str]:
    ordered = count_of(orders["contracts"].sum()) if not orders.empty else 0
    filled = count_of(orders["filled_contracts"].sum()) if not orders.empty else 0
    return {
        "scan_id": submission.scan_id,
        "execution": submission.mode.execution,
        "orders_sent": dg.MetadataValue.int(submission.sent),
        "orders_already_recorded": dg.MetadataValue.int(submission.already_recorded),
        "rejected": dg.MetadataValue.json(submission.rejected),
        "dropped": dg.MetadataValue.json(submission.dropped),
        "contracts_ordered": count_metadata(ordered),
        "contracts_filled": count_metadata(filled),
        "fill_rate": dg.MetadataValue.float(
            round(float(filled) / float(ordered), 4) if ordered else 0.0
        ),
        "orders": dg.MetadataValue.md(markdown_table(orders, ORDER_COLUMNS)),
    }
