"""One running simulator: config, clock, exchange and the helpers that serve it.

`/_sim/reset` swaps in a fresh exchange (and clock, wire caches, fault RNG) built from the
startup config plus the posted overrides, so one test's reset never leaks into the next. It
keeps the registered API keys: a client configured once keeps working across resets.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flb_pipeline.exchange.simulator.auth import KeyRing
from flb_pipeline.exchange.simulator.clock import SimClock
from flb_pipeline.exchange.simulator.config import SimConfig
from flb_pipeline.exchange.simulator.exchange import Exchange
from flb_pipeline.exchange.simulator.faults import FaultInjector
from flb_pipeline.exchange.simulator.ratelimit import RateLimiter
from flb_pipeline.exchange.simulator.trades import PublicTape
from flb_pipeline.exchange.simulator.wire import MarketWire


class SimulatorState:
    def __init__(self, config: SimConfig) -> None:
        self.base_config = config
        self.keys = KeyRing()
        self.reset(config)

    def reset(self, config: SimConfig) -> None:
        for key_id, pem in config.public_keys.items():
            self.keys.register(key_id, pem)
        self.config = config
        self.clock = SimClock(_start_ts(config.start_time), config.clock_mode)
        self.exchange = Exchange(config, self.clock)
        self.markets = MarketWire(self.exchange)
        self.tape = PublicTape(self.exchange.world)
        self.injector = FaultInjector(config.seed)
        self.limiter = RateLimiter(config.rate_tier)


def _start_ts(start_time: datetime | None) -> float:
    """The configured start (naive = UTC), else now rounded down to the second."""
    if start_time is None:
        return float(int(datetime.now(UTC).timestamp()))
    if start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=UTC)
    return start_time.timestamp()
