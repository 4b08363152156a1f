"""Manual control: a halt every kill switch honours, and resets of sticky switches.

Shared by `halt_job` / `resume_job` in the UI and `flb halt` / `flb resume` in a terminal.
The halt takes effect through a flag file at once, whatever holds the database; the
`risk_events` audit row follows as soon as the database can be written.
"""

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
from pydantic import Field

from flb_pipeline.core import risk
from flb_pipeline.core.modes import TradingRefused
from flb_pipeline.core.risk import RiskEvent
from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.defs.runs import max_runtime
from flb_pipeline.exchange.errors import ExchangeError
from flb_pipeline.store import Store, StoreLocked
from flb_pipeline.store.halt import clear_halt, read_halt, write_halt
from flb_pipeline.store.risk import append_risk_event

RESETTABLE = (risk.SLIPPAGE, risk.NO_FILLS, risk.DAILY_LOSS)


@dataclass(frozen=True)
class ControlOutcome:
    events: list[RiskEvent]
    audited: bool


def halt(store: Store, now: datetime, reason: str) -> ControlOutcome:
    event = RiskEvent(now, risk.MANUAL_HALT, risk.HALT, reason=reason or "no reason given")
    write_halt(store.halt_flag, event)
    return ControlOutcome([event], _audit(store, [event]))


def resume(store: Store, now: datetime, resets: list[str]) -> ControlOutcome:
    """Lift the manual halt and reset the named sticky switches (slippage, no_fills, ...)."""
    unknown = sorted(set(resets) - set(RESETTABLE))
    if unknown:
        raise ValueError(f"cannot reset {unknown}: only {', '.join(RESETTABLE)} are resettable")
    events = [RiskEvent(now, risk.MANUAL_HALT, risk.RESUME, reason="manual resume")]
    events += [RiskEvent(now, name, risk.RESET, reason="manual reset") for name in resets]
    clear_halt(store.halt_flag)
    return ControlOutcome(events, _audit(store, events))


def cancel_resting_orders(exchange: ExchangeResource, now: Callable[[], datetime]) -> str:
    """The halt's second act: cancel every resting order at the exchange. The halt is in
    force whatever happens here; the line says what became of the orders."""
    try:
        if exchange.trading_mode().execution != "exchange":
            return "paper execution: no resting orders at the exchange"
        with closing(exchange.client(now=now)) as client:
            client.cancel_all_orders()
    except TradingRefused as refused:
        return f"no orders could have been sent ({refused}): nothing to cancel"
    except ExchangeError as error:
        return f"warning: resting orders not cancelled ({error.error_class}: {error})"
    return "every resting order cancelled"


def halt_state(store: Store) -> RiskEvent | None:
    return read_halt(store.halt_flag)


def _audit(store: Store, events: list[RiskEvent]) -> bool:
    """Record the events in `risk_events`; False if the database stayed locked (the halt
    itself is already in force through its flag)."""
    try:
        with store.connect() as con:
            for event in events:
                append_risk_event(con, event)
    except StoreLocked:
        return False
    return True


class HaltConfig(dg.Config):
    reason: str = "manual halt from the Dagster UI"


class ResumeConfig(dg.Config):
    reset: list[str] = Field(default_factory=list)


@dg.op(description="Stop all new entries until resumed, and cancel every resting order.")
def set_manual_halt(
    context: dg.OpExecutionContext,
    config: HaltConfig,
    store: StoreResource,
    clock: ClockResource,
    exchange: ExchangeResource,
) -> None:
    outcome = halt(store.store(), clock.now(), config.reason)
    context.log.warning(f"trading halted: {outcome.events[0].reason}")
    if not outcome.audited:
        context.log.error("halt in force, but the database was locked: no risk_events row")
    context.log.warning(cancel_resting_orders(exchange, clock.now))


@dg.op(description="Lift the manual halt; optionally reset sticky switches.")
def clear_manual_halt(
    context: dg.OpExecutionContext,
    config: ResumeConfig,
    store: StoreResource,
    clock: ClockResource,
) -> None:
    try:
        outcome = resume(store.store(), clock.now(), config.reset)
    except ValueError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(f"resumed; reset: {[e.check for e in outcome.events[1:]] or 'nothing'}")


@dg.job(
    description="Manual halt: the manual_halt check blocks every order until resume_job runs.",
    tags=max_runtime(300),
)
def halt_job() -> None:
    set_manual_halt()


@dg.job(
    description="Lift the manual halt (and reset slippage / no_fills if asked).",
    tags=max_runtime(300),
)
def resume_job() -> None:
    clear_manual_halt()
