"""The seven kill switches, the exposure limits and the manual halt as blocking checks on
trade_candidates.

A failing check stops `order_submissions` in the same run, and its reason, value, threshold
and pause are in the UI. Each check reads recorded state, asks `core.risk` for a verdict,
records trips and resets in `risk_events` and its verdict in `risk_check_results` (the order
rows quote them). Anything that stops a check from evaluating fails it closed. The manual
halt is its own check, so during a halt every switch still shows its own state.
"""

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import dagster as dg
import duckdb

from flb_pipeline.core import risk
from flb_pipeline.core.calendar import trading_day_start
from flb_pipeline.core.ledger import slippage_bps
from flb_pipeline.core.risk import RiskEvent, RiskLimits, Verdict
from flb_pipeline.core.sizing import ExposureBook
from flb_pipeline.defs.assets.candidates import trade_candidates
from flb_pipeline.defs.exposure import exposure_book
from flb_pipeline.defs.resources import ClockResource, RiskResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.store import StoreLocked
from flb_pipeline.store.api_calls import errors_since
from flb_pipeline.store.decisions import (
    candidates_frame,
    cycle_capital,
    latest_decided_scan,
    load_groups,
    oldest_candidate_quote,
)
from flb_pipeline.store.exchange_state import exchange_state_for
from flb_pipeline.store.halt import read_halt
from flb_pipeline.store.risk import (
    append_risk_event,
    capital_at,
    fills_per_ordering_scan,
    recent_fill_prices,
    recent_trade_outcomes,
    risk_events,
    save_verdicts,
    start_of_day_capital,
)
from flb_pipeline.store.series import fee_schedules


@dataclass(frozen=True)
class CheckState:
    """What every switch may read: the store, the cycle, the clock, limits and risk events."""

    con: duckdb.DuckDBPyConnection
    scan_id: str
    now: datetime
    limits: RiskLimits
    events: list[RiskEvent]
    cycle: tuple[str, Decimal] | None
    """(execution mode, capital) the cycle decided with: its capital mark."""
    with_proposed: bool = True
    """Whether the cycle's proposed orders count (False: holdings alone, as judged now)."""

    def require_execution(self) -> str:
        """The cycle's execution mode; without one (no capital mark) the switch cannot see
        which ledger to read, so it fails closed."""
        if self.cycle is None:
            raise LookupError(f"no capital mark for scan {self.scan_id}")
        return self.cycle[0]

    @functools.cached_property
    def cycle_exposure(self) -> tuple[ExposureBook, Decimal] | None:
        """Open lots plus this cycle's proposed orders, and the capital it decided with.

        Read by two switches, built once."""
        if self.cycle is None:
            return None
        execution, capital = self.cycle
        groups = load_groups(self.con, self.scan_id)
        proposed = candidates_frame(self.con, self.scan_id) if self.with_proposed else None
        schedules = fee_schedules(self.con)
        return exposure_book(self.con, execution, groups, schedules, proposed), capital


Evaluator = Callable[[CheckState], Verdict]
log = logging.getLogger(__name__)


def _daily_loss(state: CheckState) -> Verdict:
    """Today's P&L is capital now less capital at the day's open (the last mark before
    midnight, carried forward; the day's first mark if there is none before)."""
    execution = state.require_execution()
    day_start = trading_day_start(state.now, state.limits.trading_timezone)
    start = start_of_day_capital(state.con, day_start, execution)
    latest = capital_at(state.con, state.now, execution)
    pnl = latest - start if start is not None and latest is not None else None
    return risk.daily_loss(pnl, start, state.now, state.limits, state.events)


def _loss_streak(state: CheckState) -> Verdict:
    outcomes = recent_trade_outcomes(
        state.con, state.require_execution(), state.limits.loss_streak_length
    )
    return risk.loss_streak(outcomes, state.now, state.limits, state.events)


def _slippage(state: CheckState) -> Verdict:
    since = risk.last_reset(state.events, risk.SLIPPAGE)
    prices = recent_fill_prices(
        state.con, state.require_execution(), since, state.limits.slippage_fills
    )
    slippages = [slippage_bps(fill, decision) for fill, decision in prices]
    return risk.slippage(slippages, state.limits)


def _error_burst(state: CheckState) -> Verdict:
    errors = errors_since(state.con, state.now - state.limits.error_window)
    return risk.error_burst(errors, state.limits)


def _stale_book(state: CheckState) -> Verdict:
    oldest = oldest_candidate_quote(state.con, state.scan_id) if state.with_proposed else None
    return risk.stale_book(oldest, state.now, state.limits)


def _no_fills(state: CheckState) -> Verdict:
    since = risk.last_reset(state.events, risk.NO_FILLS)
    fills = fills_per_ordering_scan(
        state.con, state.require_execution(), since, state.limits.no_fill_scans
    )
    return risk.no_fills(fills, state.limits)


def _correlation_breach(state: CheckState) -> Verdict:
    cycle = state.cycle_exposure
    if cycle is None:
        return risk.cannot_evaluate(risk.CORRELATION_BREACH, f"no capital mark for {state.scan_id}")
    book, capital = cycle
    return risk.correlation_breach(book.group_exposures(), capital, state.limits)


def _exposure_limits(state: CheckState) -> Verdict:
    cycle = state.cycle_exposure
    if cycle is None:
        return risk.cannot_evaluate(risk.EXPOSURE_LIMITS, f"no capital mark for {state.scan_id}")
    book, capital = cycle
    positions = {h.ticker: book.position_exposure(h.ticker) for h in book.holdings}
    return risk.exposure_limits(book.total_exposure(), positions, capital, state.limits)


def _exchange_pause(state: CheckState) -> Verdict:
    """Whether the exchange takes orders, as this cycle read it (not read: fails closed)."""
    read = exchange_state_for(state.con, state.scan_id)
    exchange, windows = read if read is not None else (None, [])
    return risk.exchange_pause(exchange, windows, state.now, state.limits)


SWITCHES: dict[str, tuple[Evaluator, str]] = {
    risk.DAILY_LOSS: (_daily_loss, "Today's P&L above -min($500, 5% of start-of-day capital)."),
    risk.LOSS_STREAK: (_loss_streak, "Not all of the last 5 closed trades lost (4 h pause)."),
    risk.SLIPPAGE: (_slippage, "Median slippage of the last 10 fills at most 50 bps."),
    risk.ERROR_BURST: (_error_burst, "At most 10 API errors in the trailing 60 minutes."),
    risk.STALE_BOOK: (_stale_book, "Every quote this cycle trades on is at most 30 s old."),
    risk.NO_FILLS: (_no_fills, "Not the last 20 ordering scans without a fill."),
    risk.CORRELATION_BREACH: (_correlation_breach, "No group's worst case above 15%."),
    risk.EXPOSURE_LIMITS: (_exposure_limits, "Total worst case <= 20%, a position <= 5%."),
    risk.EXCHANGE_PAUSE: (
        _exchange_pause,
        "The exchange takes orders and no maintenance window starts within 2 minutes.",
    ),
}


def evaluate_switches(
    scan_id: str, run_id: str, store: StoreResource, now: datetime, limits: RiskLimits
) -> list[Verdict]:
    """Every switch and the manual halt over one connection, recorded. A switch whose inputs
    fail fails alone, closed; if the store itself cannot be opened, every check fails closed.

    Trips and resets are recorded from the switches' own verdicts, so a limit hit during a
    halt is remembered after it.
    """
    halt = read_halt(store.store().halt_flag)
    try:
        with store.store().connect() as con:
            events = risk_events(con)
            state = CheckState(con, scan_id, now, limits, events, cycle_capital(con, scan_id))
            verdicts = [*switch_verdicts(state), risk.manual_halt(halt)]
            for verdict in verdicts:
                event = risk.transition(events, verdict, now)
                if event is not None:
                    append_risk_event(
                        con, event, value=verdict.value, threshold=verdict.threshold,
                        run_id=run_id,
                    )  # fmt: skip
            save_verdicts(con, scan_id, run_id, verdicts, now)
    except (StoreLocked, duckdb.Error) as error:
        why = f"{type(error).__name__}: {error}"
        return [risk.cannot_evaluate(name, why) for name in risk.BLOCKING_CHECKS]
    return verdicts


def switch_verdicts(state: CheckState) -> list[Verdict]:
    """The eight switches' verdicts on `state`, nothing recorded."""
    return [_verdict(name, evaluator, state) for name, (evaluator, _) in SWITCHES.items()]


def verdicts_now(
    con: duckdb.DuckDBPyConnection, now: datetime, limits: RiskLimits
) -> list[Verdict]:
    """Every switch as it would judge a new cycle now, on the latest cycle's capital and
    today's holdings, with no order proposed: what `flb status` shows. Nothing is recorded;
    before the first trading cycle there is nothing to judge (an empty list)."""
    scan_id = latest_decided_scan(con)
    if scan_id is None:
        return []
    cycle = cycle_capital(con, scan_id)
    state = CheckState(con, scan_id, now, limits, risk_events(con), cycle, with_proposed=False)
    return switch_verdicts(state)


def _verdict(name: str, evaluator: Evaluator, state: CheckState) -> Verdict:
    """The fail-closed boundary: whatever goes wrong inside a switch fails that switch."""
    try:
        return evaluator(state)
    except Exception as error:
        log.exception("kill switch %s could not evaluate", name)
        return risk.cannot_evaluate(name, f"{type(error).__name__}: {error}")


@dg.multi_asset_check(
    name="risk_checks",
    specs=[
        dg.AssetCheckSpec(name, asset=trade_candidates, blocking=True, description=description)
        for name, (_, description) in SWITCHES.items()
    ]
    + [
        dg.AssetCheckSpec(
            risk.MANUAL_HALT,
            asset=trade_candidates,
            blocking=True,
            description="No manual halt (flb halt / halt_job) is in force.",
        )
    ],
    ins={"scan_id": dg.AssetIn(key=trade_candidates.key)},
    pool=DUCKDB_POOL,
    description="The seven kill switches, the exposure limits and the manual halt, together.",
)
def risk_checks(
    context: dg.AssetCheckExecutionContext,
    scan_id: str,
    store: StoreResource,
    clock: ClockResource,
    risk: RiskResource,
) -> Iterator[dg.AssetCheckResult]:
    for verdict in evaluate_switches(
        scan_id, context.run.run_id, store, clock.now(), risk.limits()
    ):
        if not verdict.passed:
            context.log.error(
                f"{verdict.check} blocks trading: {verdict.reason}",
                extra={"scan_id": scan_id, "check": verdict.check},
            )
        yield dg.AssetCheckResult(
            check_name=verdict.check,
            asset_key=trade_candidates.key,
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict.reason,
            metadata=_verdict_metadata(verdict, scan_id),
        )


def _verdict_metadata(verdict: Verdict, scan_id: str) -> dict[str, dg.MetadataValue | str]:
    metadata: dict[str, dg.MetadataValue | str] = {"scan_id": scan_id, "reason": verdict.reason}
    if verdict.value is not None:
        metadata["value"] = dg.MetadataValue.float(float(verdict.value))
    if verdict.threshold is not None:
        metadata["threshold"] = dg.MetadataValue.float(float(verdict.threshold))
    if verdict.paused_until is not None:
        metadata["paused_until"] = verdict.paused_until.isoformat()
    return metadata


RISK_CHECKS = [risk_checks]
