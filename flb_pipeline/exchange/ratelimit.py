"""Token bucket: Kalshi's Basic tier allows ~20 reads/s and ~10 writes/s per key.

Kalshi counts tokens (10 per ordinary request, 200 read and 100 write tokens a second on
Basic); a bucket here counts requests, so `GET /account/limits` is divided by the cost of one
request when the client sizes its buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Refills `rate` tokens per second up to `capacity`; `acquire` waits for one token.

    Waiting client-side is cheaper than being answered 429: Kalshi sends no Retry-After, so
    every 429 costs a blind exponential backoff.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._updated = clock()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def acquire(self, cost: float = 1.0) -> float:
        """Take `cost` tokens (a batch of n orders costs n), sleeping while the bucket is in
        debt; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= cost
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait
