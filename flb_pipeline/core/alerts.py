"""Alerts: what is worth telling a trader, once.

A kill switch that trips blocks cycle after cycle until it resets; the trader needs to hear
about the trip, not about every cycle it blocks. So trips alert once each (from the recorded
`risk_events`), a run blocked only by risk checks raises no alert of its own, and any other
failure alerts once per distinct reason until a run of that job succeeds again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flb_pipeline.core.risk import BLOCKING_CHECKS, TRIP, RiskEvent

KILL_SWITCH = "kill_switch"
RUN_FAILURE = "run_failure"


@dataclass(frozen=True)
class Alert:
    at: datetime
    kind: str
    key: str
    message: str

    def line(self) -> str:
        """The alert as one line, for a log or a file."""
        return f"{self.at:%Y-%m-%dT%H:%M:%SZ} ALERT {self.kind} {self.key}: {self.message}"


def trip_alerts(events: Iterable[RiskEvent]) -> list[Alert]:
    """One alert per recorded trip (a pause extended by a new trip alerts again)."""
    return [
        Alert(event.event_ts, KILL_SWITCH, event.check, _trip_message(event))
        for event in events
        if event.kind == TRIP
    ]


def _trip_message(event: RiskEvent) -> str:
    until = f"; paused until {event.paused_until.isoformat()}" if event.paused_until else ""
    return f"tripped: {event.reason}{until}"


def failure_key(
    failed_checks: Iterable[str], failed_steps: Iterable[str], run_error: str = ""
) -> str | None:
    """What a failed run alerts as, or None when only risk checks blocked it (their trips
    alert on their own, once). A run that failed before any step (a resource that could not
    start) is named by its error."""
    checks, steps = sorted(set(failed_checks)), sorted(set(failed_steps))
    if checks and not steps and set(checks) <= set(BLOCKING_CHECKS):
        return None
    if checks:
        return "checks failed: " + ", ".join(checks)
    if steps:
        return "steps failed: " + ", ".join(steps)
    return "run failed: " + (run_error or "no error recorded")
