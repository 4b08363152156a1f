"""Manual control: a halt every kill switch honours, and resets of sticky switches.

Shared by `halt_job` / `resume_job` in the UI and `flb halt` / `flb resume` in a terminal.
"""

from datetime import datetime

import dagster as dg
from pydantic import Field

from flb_pipeline.core import risk
from flb_pipeline.core.risk import RiskEvent
from flb_pipeline.defs.resources import ClockResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.store import Store
from flb_pipeline.store.risk import append_risk_event, risk_events

RESETTABLE = (risk.SLIPPAGE, risk.NO_FILLS, risk.DAILY_LOSS)


def halt(store: Store, now: datetime, reason: str) -> RiskEvent:
    event = RiskEvent(now, risk.MANUAL_HALT, risk.HALT, reason=reason or "no reason given")
    with store.connect() as con:
        append_risk_event(con, event)
    return event


def resume(store: Store, now: datetime, resets: list[str]) -> list[RiskEvent]:
    """Lift the manual halt and reset the named sticky switches (slippage, no_fills, ...)."""
    unknown = sorted(set(resets) - set(RESETTABLE))
    if unknown:
        raise ValueError(f"cannot reset {unknown}: only {', '.join(RESETTABLE)} are resettable")
    events = [RiskEvent(now, risk.MANUAL_HALT, risk.RESUME, reason="manual resume")]
    events += [RiskEvent(now, name, risk.RESET, reason="manual reset") for name in resets]
    with store.connect() as con:
        for event in events:
            append_risk_event(con, event)
    return events


def halt_state(store: Store) -> RiskEvent | None:
    with store.connect() as con:
        return risk.active_halt(risk_events(con))


class HaltConfig(dg.Config):
    reason: str = "manual halt from the Dagster UI"


class ResumeConfig(dg.Config):
    reset: list[str] = Field(default_factory=list)


@dg.op(pool=DUCKDB_POOL, description="Stop all new entries until resumed.")
def set_manual_halt(
    context: dg.OpExecutionContext, config: HaltConfig, store: StoreResource, clock: ClockResource
) -> None:
    event = halt(store.store(), clock.now(), config.reason)
    context.log.warning(f"trading halted: {event.reason}")


@dg.op(pool=DUCKDB_POOL, description="Lift the manual halt; optionally reset sticky switches.")
def clear_manual_halt(
    context: dg.OpExecutionContext,
    config: ResumeConfig,
    store: StoreResource,
    clock: ClockResource,
) -> None:
    try:
        events = resume(store.store(), clock.now(), config.reset)
    except ValueError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(f"resumed; reset: {[e.check for e in events[1:]] or 'nothing'}")


@dg.job(description="Manual halt: every kill switch fails until resume_job runs.")
def halt_job() -> None:
    set_manual_halt()


@dg.job(description="Lift the manual halt (and reset slippage / no_fills if asked).")
def resume_job() -> None:
    clear_manual_halt()
