"""The simulator's API rate limit: Kalshi's token buckets per access tier.

Kalshi meters requests in tokens: an ordinary request costs 10, each order of a batch counts
as one request and each cancel of a batch cancel as a fifth of one. Reads and writes draw on
separate buckets whose refill per second is the tier's budget (Basic: 200 read and 100 write
tokens a second, i.e. 20 reads and 10 writes). An empty bucket answers 429 with Kalshi's body
`{"error": "too many requests"}` and no Retry-After. `GET /account/limits` tells a client its
tier so it can pace itself. The clock is the wall clock: rate limits are about real load,
whatever the simulated time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

REQUEST_COST = 10
BATCH_CANCEL_COST = 2


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    read_per_s: int
    write_per_s: int


TIERS = {
    tier.name: tier
    for tier in (
        Tier("basic", 200, 100),
        Tier("advanced", 300, 300),
        Tier("premier", 1000, 1000),
        Tier("prime", 4000, 4000),
    )
}
UNLIMITED = "unlimited"
"""No enforcement: for tests that drive the simulator with raw HTTP at full speed."""


class Bucket:
    def __init__(self, refill_per_s: float, wall: Callable[[], float]) -> None:
        self.refill_per_s = refill_per_s
        self.capacity = refill_per_s
        self._tokens = refill_per_s
        self._wall = wall
        self._last = wall()

    def take(self, tokens: float) -> bool:
        now = self._wall()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.refill_per_s)
        self._last = now
        if self._tokens < tokens:
            return False
        self._tokens -= tokens
        return True


class RateLimiter:
    """Read and write buckets of one tier; `unlimited` admits everything."""

    def __init__(self, tier: str, wall: Callable[[], float] = time.monotonic) -> None:
        self.tier = tier
        spec = TIERS.get(tier)
        self._read = Bucket(spec.read_per_s, wall) if spec else None
        self._write = Bucket(spec.write_per_s, wall) if spec else None

    def admit(self, method: str, tokens: float = REQUEST_COST) -> bool:
        bucket = self._read if method == "GET" else self._write
        return bucket is None or bucket.take(tokens)

    def limits_json(self) -> dict[str, object]:
        """`GET /account/limits` (an unlimited simulator reports the top tier)."""
        spec = TIERS.get(self.tier, TIERS["prime"])
        return {
            "usage_tier": spec.name,
            "read": {"refill_rate": spec.read_per_s, "bucket_capacity": spec.read_per_s},
            "write": {"refill_rate": spec.write_per_s, "bucket_capacity": spec.write_per_s},
            "grants": [],
        }
