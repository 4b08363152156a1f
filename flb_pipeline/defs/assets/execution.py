"""Orders, positions and closed trades.

`order_submissions` sends (or paper-fills) the cycle's candidates, idempotently: every order
is recorded as `pending` before it is sent, under a client_order_id derived from scan, ticker
and side, so a retried or re-executed run resolves what it already sent instead of sending
again. It refuses to send anything for a scan that did not pass its quality checks or whose
cycle's risk checks did not all pass, and just before each POST it re-reads the manual halt
and the age of the quote each order is priced on (`core.risk.entry_gate`): an order that
fails there is recorded as `dropped` with the reason, never sent.

On the exchange, a cycle's orders go into one Kalshi order group whose contracts limit is
the cycle's intended total, so even a runaway bug on our side meets the exchange's own stop;
they are sent in batches, and each carries `cancel_order_on_pause`.
"""

import math
from dataclasses import dataclass, field, replace
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
from flb_pipeline.core.records import ApiCall, ExchangeOrder, OrderIntent, count_of
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
from flb_pipeline.exchange.errors import ExchangeError, OrderOutcomeUnknown, RequestRejected
from flb_pipeline.exchange.schema import series_ticker_of
from flb_pipeline.reports.tables import markdown_table
from flb_pipeline.store.decisions import candidates_frame
from flb_pipeline.store.exchange_state import order_group_of, record_order_group
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
        ready = [
            prepared
            for candidate in candidates_frame(con, scan_id).itertuples()
            if (prepared := _prepare(submission, candidate)) is not None
        ]
        try:
            if mode.execution == EXCHANGE:
                _send_all(submission, ready)
            else:
                for intent, candidate in ready:
                    _paper(submission, intent, candidate)
        finally:
            _log_doubts(context, submission)
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


Prepared = tuple[OrderIntent, Any]
"""An order recorded as pending, with the candidate row it came from."""


def _prepare(submission: Submission, candidate: Any) -> Prepared | None:
    """The candidate's order, recorded as pending before anything is sent; None when it is
    dropped (off-tick) or a rerun finds it already recorded."""
    intent = _intent_or_drop(submission, candidate)
    if intent is None:
        return None
    record = _order_record(intent, submission, candidate)
    if not record_order_intent(submission.con, record, submission.clock.now()):
        submission.already_recorded += 1
        return None
    return intent, candidate


def _passes_entry_gate(submission: Submission, intent: OrderIntent, candidate: Any) -> bool:
    """Re-read the halt and the order's quote age right before it goes out."""
    now = submission.clock.now()
    quote_ts = _moment(candidate.quote_ts)
    problem = entry_gate(read_halt(submission.halt_flag), quote_ts, now, submission.max_quote_age)
    if problem:
        _drop(submission, intent, problem, now)
        return False
    return True


def _drop(submission: Submission, intent: OrderIntent, why: str, now: datetime) -> None:
    update_order(submission.con, intent.client_order_id, status=DROPPED, at=now, reject_reason=why)
    submission.dropped[intent.ticker] = why


def _paper(submission: Submission, intent: OrderIntent, candidate: Any) -> None:
    if not _passes_entry_gate(submission, intent, candidate):
        return
    submission.sent += 1
    series = series_ticker_of(candidate.event_ticker)
    schedule = schedule_for(submission.schedules, series)
    _paper_fill(submission, intent, schedule, submission.clock.now())


def _send_all(submission: Submission, ready: list[Prepared]) -> None:
    """The cycle's orders under one order group, in batches, each gated just before its
    batch goes out. Without an order group nothing is sent: the exchange-side stop is part
    of what makes sending safe."""
    if not ready:
        return
    group_id = _cycle_order_group(submission, [intent for intent, _ in ready])
    if group_id is None:
        return
    grouped = [(replace(intent, order_group_id=group_id), row) for intent, row in ready]
    size = submission.trading.order_batch_size
    for first in range(0, len(grouped), size):
        batch = [
            intent
            for intent, row in grouped[first : first + size]
            if _passes_entry_gate(submission, intent, row)
        ]
        try:
            if batch:
                _send_batch(submission, batch)
        except OrderOutcomeUnknown as unknown:
            _hold_back(submission, [intent for intent, _ in grouped[first + size :]], unknown)
            raise


def _hold_back(
    submission: Submission, intents: list[OrderIntent], unknown: OrderOutcomeUnknown
) -> None:
    """Orders not sent because an earlier one's outcome is unknown: each row says so (the
    run's one line is the unknown outcome itself)."""
    why = f"not sent: an earlier order's outcome is unknown ({unknown})"
    now = submission.clock.now()
    for intent in intents:
        update_order(
            submission.con, intent.client_order_id, status=DROPPED, at=now, reject_reason=why
        )


def _cycle_order_group(submission: Submission, intents: list[OrderIntent]) -> str | None:
    """This cycle's order group (a rerun reuses the one it made), its contracts limit the
    cycle's intended total; None, with every order dropped, when it cannot be made."""
    con, now = submission.con, submission.clock.now()
    existing = order_group_of(con, submission.scan_id)
    if existing is not None:
        return existing
    limit = math.ceil(sum(Decimal(intent.contracts) for intent in intents))
    try:
        group_id = submission.client.create_order_group(limit)
    except ExchangeError as error:
        why = f"no order group could be created ({error.error_class}: {error}); not sent"
        for intent in intents:
            _drop(submission, intent, why, now)
        return None
    record_order_group(con, group_id, submission.scan_id, limit, now)
    return group_id


def _send_batch(submission: Submission, intents: list[OrderIntent]) -> None:
    """One batched POST (a single order goes alone); every outcome lands on its order row."""
    con, now = submission.con, submission.clock.now()
    for intent in intents:
        update_order(
            con, intent.client_order_id, status=PENDING, at=now, sent_at=now,
            order_group_id=intent.order_group_id,
        )  # fmt: skip
    submission.sent += len(intents)
    attempts_before = len(submission.client.calls)
    if len(intents) == 1:
        results: list[ExchangeOrder | ExchangeError] = [_single(submission, intents[0])]
    else:
        results = submission.client.create_orders(intents)
    failures = _failed_posts(submission.client.calls[attempts_before:])
    unknown = None
    for intent, result in zip(intents, results, strict=True):
        outcome = _record_outcome(submission, intent, result, now)
        unknown = unknown or outcome
        if failures and isinstance(result, ExchangeOrder):
            submission.found_after_failed_post[intent.ticker] = f"{result.status}; POST: {failures}"
    if unknown is not None:
        raise unknown


def _single(submission: Submission, intent: OrderIntent) -> ExchangeOrder | ExchangeError:
    try:
        return submission.client.create_order(intent)
    except ExchangeError as error:
        return error


def _record_outcome(
    submission: Submission,
    intent: OrderIntent,
    result: ExchangeOrder | ExchangeError,
    now: datetime,
) -> OrderOutcomeUnknown | None:
    """The exchange's answer on the order row; an unknown outcome is returned so the run
    fails after every answer is recorded (reconciliation resolves it by client_order_id)."""
    con, cid = submission.con, intent.client_order_id
    if isinstance(result, RequestRejected):
        update_order(con, cid, status="rejected", at=now, reject_code=result.code,
                     reject_reason=str(result))  # fmt: skip
        submission.rejected[result.code] = submission.rejected.get(result.code, 0) + 1
    elif isinstance(result, OrderNotPlaced):
        update_order(con, cid, status="not_placed", at=now, reject_reason=str(result))
    elif isinstance(result, ExchangeError):
        update_order(con, cid, status="unknown", at=now, reject_reason=str(result))
        if isinstance(result, OrderOutcomeUnknown):
            return result
        return OrderOutcomeUnknown(f"order {cid} on {intent.ticker}: {result}")
    else:
        update_order(
            con, cid, status=result.status, at=now, order_id=result.order_id,
            filled_contracts=result.filled_contracts, fees=result.fees,
        )  # fmt: skip
    return None


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


def _failed_posts(calls: list[ApiCall]) -> str:
    """The error classes of the POST calls among `calls` that failed after their retries
    (empty: every POST was answered)."""
    failed = {c.error_class for c in calls if c.method == "POST" and c.final and c.error_class}
    return ", ".join(sorted(str(error_class) for error_class in failed))


def _log_doubts(context: dg.AssetExecutionContext, submission: Submission) -> None:
    """One line per kind of doubt: orders the gate dropped, orders found after a failed POST."""
    extra = {"scan_id": submission.scan_id}
    if submission.dropped:
        context.log.warning(_dropped_line(submission.dropped), extra=extra)
    if submission.found_after_failed_post:
        context.log.warning(_found_line(submission.found_after_failed_post), extra=extra)


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
