"""When events exist: a settled synthetic past plus a live present that keeps refilling.

Live events of a family open at a fixed spacing of `lifetime / concurrent` ticks, so about
`concurrent` of them are open at any moment and they sit at every stage of life. Families are
phase-shifted against each other so closes spread out instead of bunching on the same tick.
Slots are identified by (family, stream, number): the same slot always draws the same event,
however the requests that reveal it are timed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flb_pipeline.exchange.simulator.catalog import FamilySpec

HISTORY_STREAM = 0
LIVE_STREAM = 1
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True, order=True)
class EventSlot:
    """One event to create; ordering by open tick fixes market indices deterministically."""

    open_tick: int
    family_index: int
    stream: int
    number: int


def history_slots(
    families: list[FamilySpec],
    total_events: int,
    history_days: float,
    lifetime_ticks: int,
    tick_s: float,
    settle_delay_s: float,
) -> list[EventSlot]:
    """Past events, closes spread uniformly over `history_days`, all settled by tick 0."""
    span_start = -round(history_days * SECONDS_PER_DAY / tick_s)
    last_close = -math.ceil(settle_delay_s / tick_s) - 1
    span = max(1, last_close - span_start)
    slots = []
    for family_index, count in enumerate(_apportion(families, total_events)):
        offset = (family_index + 0.5) / len(families)
        for number in range(count):
            close_tick = span_start + math.floor((number + offset) * span / count)
            slots.append(
                EventSlot(close_tick - lifetime_ticks, family_index, HISTORY_STREAM, number)
            )
    return sorted(slots)


def _apportion(families: list[FamilySpec], total: int) -> list[int]:
    """Split `total` by family share, largest remainders first, so the counts add up."""
    weight = sum(family.share for family in families)
    exact = [total * family.share / weight for family in families]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(families)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


class LiveSchedule:
    """The open-ended stream of live events of one family."""

    def __init__(
        self,
        family: FamilySpec,
        family_index: int,
        family_count: int,
        share_of_target: float,
        lifetime_ticks: int,
    ) -> None:
        self.family_index = family_index
        self.concurrent = max(1, round(share_of_target / family.markets_per_event))
        self._spacing = lifetime_ticks / self.concurrent
        self._phase = -self._spacing * family_index / family_count
        self._next_number = 0

    def open_tick(self, number: int) -> int:
        """Number `concurrent - 1` opens at or just before tick 0: the market is full at start."""
        return math.floor(self._phase + (number - self.concurrent + 1) * self._spacing)

    def due(self, horizon_tick: int) -> list[EventSlot]:
        """Slots not yet handed out that open by `horizon_tick`."""
        slots = []
        while (tick := self.open_tick(self._next_number)) <= horizon_tick:
            slots.append(EventSlot(tick, self.family_index, LIVE_STREAM, self._next_number))
            self._next_number += 1
        return slots


def live_schedules(
    families: list[FamilySpec], markets_target: int, lifetime_ticks: int
) -> list[LiveSchedule]:
    weight = sum(family.share for family in families)
    return [
        LiveSchedule(
            family, index, len(families), markets_target * family.share / weight, lifetime_ticks
        )
        for index, family in enumerate(families)
    ]
