"""Trading pauses: Kalshi's weekly maintenance window and pauses scheduled on the simulator.

Kalshi stops trading every Thursday from 3 to 5 AM New York time for maintenance (published
under `GET /exchange/schedule`) and may pause at other times; `GET /exchange/status` then
answers `trading_active: false`. While trading is paused the simulator refuses new orders,
cancels resting orders that asked for it (`cancel_order_on_pause`) and nobody trades.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

NEW_YORK = ZoneInfo("America/New_York")
THURSDAY = 3
MAINTENANCE_START_HOUR, MAINTENANCE_END_HOUR = 3, 5
SCHEDULE_WEEKS = 4


@dataclass(frozen=True, slots=True, order=True)
class Pause:
    start_ts: float
    end_ts: float

    def covers(self, ts: float) -> bool:
        return self.start_ts <= ts < self.end_ts


def weekly_maintenance(from_ts: float, to_ts: float) -> list[Pause]:
    """The Thursday 3-5 AM New York windows that overlap [from_ts, to_ts]."""
    day = datetime.fromtimestamp(from_ts, NEW_YORK).date() - timedelta(days=7)
    end_day = datetime.fromtimestamp(to_ts, NEW_YORK).date() + timedelta(days=1)
    windows = []
    while day <= end_day:
        if day.weekday() == THURSDAY:
            start = datetime(day.year, day.month, day.day, MAINTENANCE_START_HOUR, tzinfo=NEW_YORK)
            end = datetime(day.year, day.month, day.day, MAINTENANCE_END_HOUR, tzinfo=NEW_YORK)
            if end.timestamp() > from_ts and start.timestamp() <= to_ts:
                windows.append(Pause(start.timestamp(), end.timestamp()))
        day += timedelta(days=1)
    return windows


class PauseCalendar:
    """Every pause the exchange knows: weekly maintenance (optional) plus scheduled ones."""

    def __init__(self, weekly: bool, scheduled: Iterable[Pause] = ()) -> None:
        self.weekly = weekly
        self.scheduled = sorted(scheduled)

    def schedule(self, pause: Pause) -> None:
        self.scheduled = sorted([*self.scheduled, pause])

    def between(self, from_ts: float, to_ts: float) -> list[Pause]:
        """Pauses overlapping [from_ts, to_ts], in time order."""
        ad_hoc = [p for p in self.scheduled if p.end_ts > from_ts and p.start_ts <= to_ts]
        weekly = weekly_maintenance(from_ts, to_ts) if self.weekly else []
        return sorted(ad_hoc + weekly)

    def active(self, now: float) -> Pause | None:
        return next((p for p in self.between(now, now) if p.covers(now)), None)

    def paused_mask(self, times: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether trading was paused at each of `times`."""
        mask = np.zeros(len(times), dtype=bool)
        if len(times) == 0:
            return mask
        for pause in self.between(float(times.min()), float(times.max())):
            mask |= (times >= pause.start_ts) & (times < pause.end_ts)
        return mask

    def upcoming(self, now: float) -> list[Pause]:
        """What `GET /exchange/schedule` lists: current and future windows a few weeks out."""
        horizon = now + SCHEDULE_WEEKS * 7 * 86_400
        return [p for p in self.between(now, horizon) if p.end_ts > now]


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
