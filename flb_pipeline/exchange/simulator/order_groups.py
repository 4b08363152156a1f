"""Order groups: Kalshi's exchange-side cap on how much a set of orders may fill.

A group has a contracts limit over a rolling 15-second window. Fills of its orders add to the
window; once the window's total exceeds the limit the group is triggered: its resting orders
are canceled and new orders in it are refused until it is reset. A manual trigger does the
same, and lowering the limit below the window's total triggers it at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

ROLLING_WINDOW_S = 15.0
MAX_CONTRACTS_LIMIT = Decimal(1_000_000)


@dataclass
class OrderGroup:
    group_id: str
    contracts_limit: Decimal
    triggered: bool = False
    order_ids: list[str] = field(default_factory=list)
    _fills: deque[tuple[float, Decimal]] = field(default_factory=deque)

    def rolling_volume(self, now: float) -> Decimal:
        while self._fills and self._fills[0][0] <= now - ROLLING_WINDOW_S:
            self._fills.popleft()
        return sum((count for _, count in self._fills), Decimal(0))

    def record_fill(self, ts: float, count: Decimal) -> bool:
        """Add a fill; True when it makes the group trip (it was not triggered before)."""
        self._fills.append((ts, count))
        return self._trip_if_over(ts)

    def set_limit(self, limit: Decimal, now: float) -> bool:
        self.contracts_limit = limit
        return self._trip_if_over(now)

    def reset(self) -> None:
        self.triggered = False
        self._fills.clear()

    def _trip_if_over(self, now: float) -> bool:
        if self.triggered or self.rolling_volume(now) <= self.contracts_limit:
            return False
        self.triggered = True
        return True
