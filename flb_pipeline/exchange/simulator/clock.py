"""The simulator's clock: wall-clock paced ("realtime") or moved only by tests ("manual").

Everything time-dependent in the simulator reads `SimClock.now()`, never the wall clock, so a
manual clock makes a whole trading day replayable in milliseconds and bit-for-bit repeatable.
Switching modes keeps the simulated time continuous.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flb_pipeline.exchange.simulator.config import CLOCK_MODES, ConfigError

WallClock = Callable[[], float]


class SimClock:
    """Simulated UNIX time in seconds, anchored to the wall clock while in realtime mode."""

    def __init__(self, start_ts: float, mode: str, wall: WallClock = time.time) -> None:
        self.start_ts = start_ts
        self._wall = wall
        self._mode = mode
        self._anchor_sim = start_ts
        self._anchor_wall = wall()

    @property
    def mode(self) -> str:
        return self._mode

    def now(self) -> float:
        if self._mode == "manual":
            return self._anchor_sim
        return self._anchor_sim + (self._wall() - self._anchor_wall)

    def advance(self, seconds: float) -> None:
        """Jump forward; time never runs backwards, so positions cannot un-settle."""
        if seconds < 0:
            raise ConfigError("advance_seconds must be >= 0")
        self._rebase()
        self._anchor_sim += seconds

    def set_mode(self, mode: str) -> None:
        if mode not in CLOCK_MODES:
            raise ConfigError(f"mode must be one of {CLOCK_MODES}")
        self._rebase()
        self._mode = mode

    def _rebase(self) -> None:
        self._anchor_sim = self.now()
        self._anchor_wall = self._wall()
