"""Fault injection for reliability tests: 429 bursts, 500s, malformed bodies, latency.

Faults hit only Kalshi API routes, never the `/_sim` control plane. Their randomness comes
from a generator seeded from the simulator seed, so a failing test replays identically. The
other knobs (frozen books, rejects, partial fills, adverse moves, rigged settlements) act
inside the exchange, which reads them from its current `FaultConfig`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flb_pipeline.exchange.simulator.config import FaultConfig
from flb_pipeline.exchange.simulator.errors import ApiError, TooManyRequests

_FAULT_STREAM = 0xFA17


class FaultInjector:
    """Per-request fault decisions, drawn in request order."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, _FAULT_STREAM])

    def before_request(self, faults: FaultConfig) -> tuple[FaultConfig, ApiError | None]:
        """The fault config after this request (a 429 burst counts down) and the error to send."""
        if faults.burst_429 > 0:
            remaining = dataclasses.replace(faults, burst_429=faults.burst_429 - 1)
            return remaining, TooManyRequests()
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            return faults, ApiError(500, "internal_server_error", "injected server error")
        return faults, None

    def malformed(self, faults: FaultConfig) -> bool:
        return faults.malformed_rate > 0 and bool(self._rng.random() < faults.malformed_rate)

    @staticmethod
    def latency_s(faults: FaultConfig, method: str, api_path: str) -> float:
        """Added delay for this route; `latency_method` narrows it to one HTTP method, so a
        slow POST can be tested against a prompt GET of the same path."""
        prefix = faults.latency_path_prefix
        if faults.latency_ms <= 0 or (prefix and not api_path.startswith(prefix)):
            return 0.0
        if faults.latency_method and faults.latency_method.upper() != method:
            return 0.0
        return faults.latency_ms / 1000


def truncated(body: bytes) -> bytes:
    """A body cut in half: never valid JSON for the object bodies this API returns."""
    return body[: max(1, len(body) // 2)]
