"""The kill switches of a replayed cycle: the live rules (`core.risk`) on the replay's state.

The switches are evaluated at every replayed cycle, in the order and with the inputs the live
checks read from the store (`defs.checks`): capital marks, closed trades newest first, fills
and ordering scans since the switch's last reset, and the exposure of the held lots, resting
orders and proposed orders. Trips and resets are recorded through `risk.transition`, so pauses
(a daily loss until the next day, a loss streak for four hours) run exactly as they would live.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from flb_pipeline.core import risk
from flb_pipeline.core.calendar import trading_day_start
from flb_pipeline.core.ledger import ClosedTrade, slippage_bps
from flb_pipeline.core.records import Count
from flb_pipeline.core.risk import RiskEvent, RiskLimits, Verdict
from flb_pipeline.core.sizing import ExposureBook

PAUSING_SWITCHES = (risk.DAILY_LOSS, risk.LOSS_STREAK)


@dataclass
class OrderingScan:
    """A cycle that sent orders, and the contracts they have filled so far."""

    decided_at: datetime
    filled: Count = 0


@dataclass
class SwitchState:
    """What the switches read, kept as the replay goes. Trips and resets are kept in order
    and also per check: every rule only looks at its own check's events, and a long replay
    records thousands."""

    limits: RiskLimits
    events: list[RiskEvent] = field(default_factory=list)
    events_of: dict[str, list[RiskEvent]] = field(default_factory=dict)
    mark_times: list[datetime] = field(default_factory=list)
    mark_capitals: list[Decimal] = field(default_factory=list)
    fill_prices: list[tuple[datetime, str, Decimal, Decimal]] = field(default_factory=list)
    """(fill time, fill id, fill price, decision price) of every buy fill."""
    ordering_scans: list[OrderingScan] = field(default_factory=list)

    def mark(self, now: datetime, capital: Decimal) -> None:
        """The cycle's capital mark (what `capital_marks` records live), in time order."""
        self.mark_times.append(now)
        self.mark_capitals.append(capital)

    def paused(self, now: datetime) -> bool:
        """Whether a pause that no proposed order can lift is in force (a daily loss or a
        loss streak): such a cycle is blocked whatever it would decide."""
        return any(risk.active_pause(self._of(check), check, now) for check in PAUSING_SWITCHES)

    def state_key(self, now: datetime, capital: Decimal, closed: int) -> tuple[object, ...]:
        """Everything the verdicts of a cycle without holdings or proposed orders read."""
        return (
            capital, closed, len(self.fill_prices), len(self.ordering_scans),
            trading_day_start(now, self.limits.trading_timezone), self.paused(now),
        )  # fmt: skip

    def verdicts(
        self,
        now: datetime,
        closed: list[ClosedTrade],
        exposure: ExposureBook,
        oldest_quote: datetime | None,
    ) -> list[Verdict]:
        """Every blocking check on this cycle, trips and resets recorded."""
        capital = self.mark_capitals[-1] if self.mark_capitals else None
        positions = exposure.position_exposures()
        verdicts = [
            self._daily_loss(now),
            risk.loss_streak(
                _newest_outcomes(closed, self.limits.loss_streak_length),
                now,
                self.limits,
                self._of(risk.LOSS_STREAK),
            ),
            risk.slippage(self._slippages(), self.limits),
            risk.error_burst(0, self.limits),
            risk.stale_book(oldest_quote, now, self.limits),
            risk.no_fills(self._fills_per_scan(), self.limits),
            risk.correlation_breach(exposure.group_exposures(), capital, self.limits),
            risk.exposure_limits(exposure.total_exposure(), positions, capital, self.limits),
            risk.manual_halt(None),
        ]
        for verdict in verdicts:
            event = risk.transition(self._of(verdict.check), verdict, now)
            if event is not None:
                self.events.append(event)
                self._of(verdict.check).append(event)
        return verdicts

    def _of(self, check: str) -> list[RiskEvent]:
        return self.events_of.setdefault(check, [])

    def _daily_loss(self, now: datetime) -> Verdict:
        """Today's P&L: the latest mark less the last mark before the day opened (else the
        day's first mark)."""
        day_start = trading_day_start(now, self.limits.trading_timezone)
        opened = bisect.bisect_left(self.mark_times, day_start)
        latest_index = bisect.bisect_right(self.mark_times, now) - 1
        start_index = opened - 1 if opened > 0 else opened
        start = self.mark_capitals[start_index] if start_index <= latest_index else None
        latest = self.mark_capitals[latest_index] if latest_index >= 0 else None
        pnl = latest - start if start is not None and latest is not None else None
        return risk.daily_loss(pnl, start, now, self.limits, self._of(risk.DAILY_LOSS))

    def _slippages(self) -> list[float]:
        since = risk.last_reset(self._of(risk.SLIPPAGE), risk.SLIPPAGE)
        recent = sorted(
            (f for f in self.fill_prices[-4 * self.limits.slippage_fills :]
             if since is None or f[0] > since),
            key=lambda f: (f[0], f[1]),
            reverse=True,
        )  # fmt: skip
        return [slippage_bps(price, decided) for _, _, price, decided in recent]

    def _fills_per_scan(self) -> list[Count]:
        since = risk.last_reset(self._of(risk.NO_FILLS), risk.NO_FILLS)
        scans = [s for s in self.ordering_scans if since is None or s.decided_at > since]
        return [scan.filled for scan in reversed(scans[-self.limits.no_fill_scans :])]


def _newest_outcomes(closed: list[ClosedTrade], limit: int) -> list[tuple[datetime, Decimal]]:
    """(closed_at, net P&L) of the latest closed trades, newest first (ties by trade id)."""
    tail = sorted(closed[-4 * limit :], key=lambda t: (t.closed_at, t.trade_id), reverse=True)
    return [(t.closed_at, t.net_pnl) for t in tail[:limit]]
