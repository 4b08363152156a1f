"""Kill switches (DESIGN §6): recorded state in, verdicts out.

Each switch is a pure function returning a `Verdict` (passed, value, threshold, paused_until,
reason). Missing inputs fail closed. Pauses are derived from recorded state (closed trades,
fills, scans, `risk_events`), so they survive restarts without any process memory. The manual
halt is a check of its own beside the switches, so a halt never hides what the switches see;
checks only stop new entries.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flb_pipeline.core.calendar import TRADING_TIMEZONE, next_trading_day
from flb_pipeline.core.records import ExchangeState, MaintenanceWindow
from flb_pipeline.core.sizing import ExposureCaps

DAILY_LOSS = "daily_loss"
LOSS_STREAK = "loss_streak"
SLIPPAGE = "slippage"
ERROR_BURST = "error_burst"
STALE_BOOK = "stale_book"
NO_FILLS = "no_fills"
CORRELATION_BREACH = "correlation_breach"
EXPOSURE_LIMITS = "exposure_limits"
EXCHANGE_PAUSE = "exchange_pause"
KILL_SWITCHES = (
    DAILY_LOSS,
    LOSS_STREAK,
    SLIPPAGE,
    ERROR_BURST,
    STALE_BOOK,
    NO_FILLS,
    CORRELATION_BREACH,
    EXPOSURE_LIMITS,
)
MANUAL_HALT = "manual_halt"
BLOCKING_CHECKS = (*KILL_SWITCHES, EXCHANGE_PAUSE, MANUAL_HALT)
"""Every check a cycle's orders need to have passed."""
TRIP, RESET, HALT, RESUME = "trip", "reset", "halt", "resume"


@dataclass(frozen=True)
class RiskLimits:
    """DESIGN §6 thresholds; every one is deployment config."""

    daily_loss_dollars: Decimal = Decimal(500)
    daily_loss_fraction: Decimal = Decimal("0.05")
    trading_timezone: str = TRADING_TIMEZONE
    loss_streak_length: int = 5
    loss_streak_pause: timedelta = timedelta(hours=4)
    max_median_slippage_bps: float = 50.0
    slippage_fills: int = 10
    max_api_errors: int = 10
    error_window: timedelta = timedelta(minutes=60)
    max_quote_age: timedelta = timedelta(seconds=30)
    no_fill_scans: int = 20
    pause_lead: timedelta = timedelta(minutes=2)
    """How long before a maintenance window new entries stop."""
    position_fraction: Decimal = ExposureCaps.position_fraction
    group_fraction: Decimal = ExposureCaps.group_fraction
    total_fraction: Decimal = ExposureCaps.total_fraction

    @property
    def caps(self) -> ExposureCaps:
        """The same fractions as sizing's caps: what sizing trims to, the switches enforce."""
        return ExposureCaps(self.position_fraction, self.group_fraction, self.total_fraction)


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    value: float | None
    threshold: float | None
    paused_until: datetime | None
    reason: str


@dataclass(frozen=True)
class RiskEvent:
    event_ts: datetime
    check: str
    kind: str
    paused_until: datetime | None = None
    reason: str = ""


def cannot_evaluate(check: str, why: str) -> Verdict:
    """Fail closed: a switch that cannot see its inputs never lets an order through."""
    return Verdict(check, False, None, None, None, f"cannot evaluate, failing closed: {why}")


def _last(events: Sequence[RiskEvent], check: str, kinds: tuple[str, ...]) -> int | None:
    """Index of the last event of `check` among `kinds`.

    `events` are in the order they were recorded. That order, not the timestamps, decides
    which came last: two operators (or a test on a frozen clock) can act in the same instant.
    """
    for index in range(len(events) - 1, -1, -1):
        if events[index].check == check and events[index].kind in kinds:
            return index
    return None


def active_halt(events: Sequence[RiskEvent]) -> RiskEvent | None:
    """The manual halt in force, if the latest halt/resume event is a halt."""
    index = _last(events, MANUAL_HALT, (HALT, RESUME))
    return events[index] if index is not None and events[index].kind == HALT else None


def last_reset(events: Sequence[RiskEvent], check: str) -> datetime | None:
    index = _last(events, check, (RESET,))
    return events[index].event_ts if index is not None else None


def transition(events: Sequence[RiskEvent], verdict: Verdict, now: datetime) -> RiskEvent | None:
    """The trip or reset `verdict` implies, given what is recorded (None: nothing new).

    A switch that starts failing trips; one that passes again after a trip resets. A switch
    already tripped trips again when its new pause reaches further than the recorded one, so
    a daily loss hit again on a later day pauses until that day's end.
    """
    index = _last(events, verdict.check, (TRIP, RESET))
    previous = events[index] if index is not None and events[index].kind == TRIP else None
    if verdict.passed:
        return RiskEvent(now, verdict.check, RESET, None, verdict.reason) if previous else None
    trip = RiskEvent(now, verdict.check, TRIP, verdict.paused_until, verdict.reason)
    if previous is None:
        return trip
    if verdict.paused_until is None:
        return None
    if previous.paused_until is None or verdict.paused_until > previous.paused_until:
        return trip
    return None


def order_gate(
    verdicts: Mapping[str, tuple[bool, datetime]], now: datetime, max_age: timedelta
) -> str | None:
    """Why a cycle's orders may not be sent (None: they may).

    Defence in depth behind the blocking checks: every check must have passed on this very
    cycle, and recently enough that its quotes are still the ones it judged.
    """
    missing = sorted(set(BLOCKING_CHECKS) - set(verdicts))
    if missing:
        return f"missing checks {missing}"
    failed = sorted(name for name, (passed, _) in verdicts.items() if not passed)
    if failed:
        return f"failed checks {failed}"
    oldest = min(evaluated for _, evaluated in verdicts.values())
    if now - oldest > max_age:
        return f"checks are {(now - oldest).total_seconds():.0f}s old, older than the quotes may be"
    return None


def scan_gate(recorded: Mapping[str, tuple[bool, str]], required: Sequence[str]) -> str | None:
    """Why a scan may not be traded (None: it may): every quality check must have been
    recorded for it, and passed. A scan whose checks never ran is refused, not trusted."""
    missing = sorted(set(required) - set(recorded))
    if missing:
        return f"its quality checks {missing} were never recorded"
    failed = [f"{name} ({recorded[name][1]})" for name in required if not recorded[name][0]]
    if failed:
        return f"it failed its quality checks: {'; '.join(failed)}"
    return None


def entry_gate(
    halt: RiskEvent | None, quote_ts: datetime | None, now: datetime, max_age: timedelta
) -> str | None:
    """Why this one order may not be posted now (None: it may).

    Read immediately before each POST: a halt written while a cycle is sending stops the
    rest of its orders, and an order whose quote aged past the limit while earlier orders
    were sent is dropped rather than priced on a stale book.
    """
    if halt is not None:
        return halt_reason(halt)
    if quote_ts is None:
        return "the quote this order is priced on has no time"
    age = (now - quote_ts).total_seconds()
    if age > max_age.total_seconds():
        return f"its quote is {age:.1f}s old, older than {max_age.total_seconds():.0f}s"
    return None


def manual_halt(halt: RiskEvent | None) -> Verdict:
    """The operator's halt as a check of its own: it blocks entries until resumed."""
    if halt is None:
        return Verdict(MANUAL_HALT, True, 0, None, None, "no manual halt")
    return Verdict(MANUAL_HALT, False, 1, None, None, halt_reason(halt))


def halt_reason(halt: RiskEvent) -> str:
    return f"manual halt since {halt.event_ts.isoformat()}: {halt.reason or 'no reason given'}"


def daily_loss(
    pnl_today: Decimal | None,
    start_of_day_capital: Decimal | None,
    now: datetime,
    limits: RiskLimits,
    events: Sequence[RiskEvent],
) -> Verdict:
    """Trips at P&L <= -min($500, 5% of start-of-day capital); blocks until the next day."""
    paused = active_pause(events, DAILY_LOSS, now)
    if pnl_today is None or start_of_day_capital is None:
        return cannot_evaluate(DAILY_LOSS, "no capital marks for today")
    limit = min(limits.daily_loss_dollars, limits.daily_loss_fraction * start_of_day_capital)
    value, threshold = float(pnl_today), -float(limit)
    if paused:
        return Verdict(DAILY_LOSS, False, value, threshold, paused, "daily loss limit hit today")
    if pnl_today <= -limit:
        until = next_trading_day(now, limits.trading_timezone)
        reason = f"today's P&L {pnl_today:.2f} <= -{limit:.2f}"
        return Verdict(DAILY_LOSS, False, value, threshold, until, reason)
    return Verdict(DAILY_LOSS, True, value, threshold, None, "within the daily loss limit")


def loss_streak(
    recent_trades: Sequence[tuple[datetime, Decimal]],
    now: datetime,
    limits: RiskLimits,
    events: Sequence[RiskEvent],
) -> Verdict:
    """`recent_trades`: (closed_at, net P&L) newest first.

    Five losses in a row pause entries for 4 h from the fifth loss. The pause is the
    recorded trip's, so a win that settles during it changes nothing; the losses that made
    it are spent, and a new streak counts only trades closed after them.
    """
    streak = limits.loss_streak_length
    paused = active_pause(events, LOSS_STREAK, now)
    if paused:
        reason = f"{streak} losses in a row: paused until {paused.isoformat()}"
        return Verdict(LOSS_STREAK, False, streak, streak, paused, reason)
    spent_until = _streak_spent_until(events, limits)
    last = [
        (closed_at, pnl)
        for closed_at, pnl in recent_trades[:streak]
        if spent_until is None or closed_at > spent_until
    ]
    losses = sum(1 for _, pnl in last if pnl < 0)
    if not last:
        return Verdict(LOSS_STREAK, True, 0, streak, None, "no closed trades since the last pause")
    if len(last) < streak or losses < streak:
        reason = f"{losses} of the last {len(last)} closed trades lost"
        return Verdict(LOSS_STREAK, True, losses, streak, None, reason)
    until = max(closed_at for closed_at, _ in last) + limits.loss_streak_pause
    if now < until:
        reason = f"the last {streak} closed trades all lost: paused until {until.isoformat()}"
        return Verdict(LOSS_STREAK, False, losses, streak, until, reason)
    return Verdict(LOSS_STREAK, True, losses, streak, None, "the loss-streak pause has run out")


def _streak_spent_until(events: Sequence[RiskEvent], limits: RiskLimits) -> datetime | None:
    """The fifth loss of the latest recorded streak: trades up to it made that pause."""
    index = _last(events, LOSS_STREAK, (TRIP,))
    if index is None or events[index].paused_until is None:
        return None
    return events[index].paused_until - limits.loss_streak_pause


def slippage(recent_slippage_bps: Sequence[float], limits: RiskLimits) -> Verdict:
    """Median of the last N fills' slippage (since the last reset); needs N fills."""
    needed = limits.slippage_fills
    window = list(recent_slippage_bps[:needed])
    if len(window) < needed:
        reason = f"{len(window)} of the {needed} fills it needs since the last reset"
        return Verdict(SLIPPAGE, True, None, limits.max_median_slippage_bps, None, reason)
    median = statistics.median(window)
    passed = median <= limits.max_median_slippage_bps
    reason = f"median slippage of the last {needed} fills is {median:.1f} bps"
    return Verdict(SLIPPAGE, passed, median, limits.max_median_slippage_bps, None, reason)


def error_burst(api_errors_in_window: int | None, limits: RiskLimits) -> Verdict:
    """Counts calls that failed after their retries (and records the exchange sent that we had
    to skip), not attempts: a retry that succeeds is the client working, not an error burst."""
    if api_errors_in_window is None:
        return cannot_evaluate(ERROR_BURST, "api_calls unavailable")
    minutes = limits.error_window.total_seconds() / 60
    passed = api_errors_in_window <= limits.max_api_errors
    reason = f"{api_errors_in_window} API calls failed after retries in the last {minutes:.0f} min"
    return Verdict(ERROR_BURST, passed, api_errors_in_window, limits.max_api_errors, None, reason)


def exchange_pause(
    state: ExchangeState | None,
    windows: Sequence[MaintenanceWindow],
    now: datetime,
    limits: RiskLimits,
) -> Verdict:
    """New entries only while the exchange takes orders, and not in (or just before) a
    scheduled maintenance window: an order sent into a pause is refused or cancelled."""
    if state is None:
        return cannot_evaluate(EXCHANGE_PAUSE, "the exchange's status was not read this cycle")
    if not state.exchange_active or not state.trading_active:
        resume = f" until {state.resumes_at.isoformat()}" if state.resumes_at else ""
        return Verdict(EXCHANGE_PAUSE, False, 1, None, state.resumes_at,
                       f"trading is paused on the exchange{resume}")  # fmt: skip
    ahead = now + limits.pause_lead
    for window in windows:
        if window.start <= ahead and now < window.end:
            reason = f"maintenance {window.start.isoformat()} to {window.end.isoformat()}"
            return Verdict(EXCHANGE_PAUSE, False, 1, None, window.end, reason)
    return Verdict(EXCHANGE_PAUSE, True, 0, None, None, "the exchange is taking orders")


def stale_book(oldest_used_quote: datetime | None, now: datetime, limits: RiskLimits) -> Verdict:
    """Quote age: the age of the oldest quote the cycle trades on, when this check runs.

    `oldest_used_quote` is None when the cycle trades nothing: nothing can be stale, and
    there is no age to report (value None, not 0, so health figures are not diluted).
    """
    threshold = limits.max_quote_age.total_seconds()
    if oldest_used_quote is None:
        return Verdict(STALE_BOOK, True, None, threshold, None, "no quotes used this cycle")
    age = (now - oldest_used_quote).total_seconds()
    reason = f"oldest quote used is {age:.1f}s old"
    return Verdict(STALE_BOOK, age <= threshold, age, threshold, None, reason)


def no_fills(fills_per_ordering_scan: Sequence[int], limits: RiskLimits) -> Verdict:
    """Fill counts of the latest scans that sent orders (since the last reset), newest first.

    A scan whose orders were all rejected sent orders and got no fill: it counts, so a
    reject storm trips the switch."""
    needed = limits.no_fill_scans
    window = list(fills_per_ordering_scan[:needed])
    empty = sum(1 for fills in window if fills == 0)
    if not window:
        return Verdict(
            NO_FILLS, True, 0, needed, None, "no scan has sent orders since the last reset"
        )
    if len(window) < needed or empty < needed:
        reason = f"{empty} of the last {len(window)} ordering scans got no fill"
        return Verdict(NO_FILLS, True, empty, needed, None, reason)
    reason = f"the last {needed} scans that sent orders got no fill"
    return Verdict(NO_FILLS, False, empty, needed, None, reason)


def correlation_breach(
    group_exposures: Mapping[str, Decimal], capital: Decimal | None, limits: RiskLimits
) -> Verdict:
    """Worst-case loss of any group, positions plus proposed orders, against 15% of capital."""
    if not capital or capital <= 0:
        return cannot_evaluate(CORRELATION_BREACH, "capital unknown")
    cap = limits.group_fraction * capital
    worst_group, worst = _largest(group_exposures)
    passed = worst <= cap
    reason = f"largest group {worst_group or '-'} risks {worst:.2f} of a {cap:.2f} cap"
    return Verdict(
        CORRELATION_BREACH,
        passed,
        float(worst / capital),
        float(limits.group_fraction),
        None,
        reason,
    )


def exposure_limits(
    total_exposure: Decimal,
    position_exposures: Mapping[str, Decimal],
    capital: Decimal | None,
    limits: RiskLimits,
) -> Verdict:
    if not capital or capital <= 0:
        return cannot_evaluate(EXPOSURE_LIMITS, "capital unknown")
    largest_ticker, largest = _largest(position_exposures)
    total_cap = limits.total_fraction * capital
    position_cap = limits.position_fraction * capital
    total_ok, position_ok = total_exposure <= total_cap, largest <= position_cap
    reason = (
        f"total {total_exposure:.2f} (cap {total_cap:.2f}), largest position "
        f"{largest_ticker or '-'} {largest:.2f} (cap {position_cap:.2f})"
    )
    if total_ok and not position_ok:  # show the figure that failed
        value, threshold = largest / capital, limits.position_fraction
    else:
        value, threshold = total_exposure / capital, limits.total_fraction
    return Verdict(
        EXPOSURE_LIMITS, total_ok and position_ok, float(value), float(threshold), None, reason
    )


def _largest(exposures: Mapping[str, Decimal]) -> tuple[str, Decimal]:
    return max(exposures.items(), key=lambda item: item[1], default=("", Decimal(0)))


def active_pause(events: Sequence[RiskEvent], check: str, now: datetime) -> datetime | None:
    """The latest trip's pause, unless a reset was recorded after it or it has run out."""
    index = _last(events, check, (TRIP, RESET))
    if index is None or events[index].kind == RESET:
        return None
    paused_until = events[index].paused_until
    return paused_until if paused_until is not None and paused_until > now else None
