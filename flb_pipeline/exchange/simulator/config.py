"""Configuration of the exchange simulator.

`SimConfig` fixes everything that shapes the simulated world, so one config plus one seed
always yields the same exchange. `FaultConfig` holds the reliability knobs that tests flip at
runtime through `POST /_sim/faults`; it is part of `SimConfig` so a fault scenario can also be
set up front (e.g. `flb sim --error-rate 0.05`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FAMILIES = ("weather", "index", "economics", "sports")
CLOCK_MODES = ("realtime", "manual")
RATE_TIERS = ("basic", "advanced", "premier", "prime", "unlimited")
RIG_MODES = ("against_positions", "for_positions")


class ConfigError(ValueError):
    """A config value the simulator cannot honour; reported to the caller as a 400."""


@dataclass(frozen=True)
class FaultConfig:
    """Reliability faults, all off by default (see the simulator spec, "Faults")."""

    error_rate: float = 0.0
    burst_429: int = 0
    latency_ms: float = 0.0
    latency_path_prefix: str | None = None
    latency_method: str | None = None
    malformed_rate: float = 0.0
    missing_field: str | None = None
    frozen_books: bool = False
    reject_orders: str | None = None
    partial_fill_ratio: float | None = None
    adverse_move_cents: int = 0
    rig_settlements: str | None = None
    crossed_book_rate: float = 0.0

    def __post_init__(self) -> None:
        _require(0.0 <= self.error_rate <= 1.0, "error_rate must be within [0, 1]")
        _require(0.0 <= self.malformed_rate <= 1.0, "malformed_rate must be within [0, 1]")
        _require(0.0 <= self.crossed_book_rate <= 1.0, "crossed_book_rate must be within [0, 1]")
        _require(self.burst_429 >= 0, "burst_429 must be >= 0")
        _require(self.latency_ms >= 0, "latency_ms must be >= 0")
        _require(self.adverse_move_cents >= 0, "adverse_move_cents must be >= 0")
        ratio = self.partial_fill_ratio
        _require(ratio is None or 0.0 <= ratio <= 1.0, "partial_fill_ratio must be within [0, 1]")
        _require(
            self.rig_settlements in (None, *RIG_MODES),
            f"rig_settlements must be null or one of {RIG_MODES}",
        )

    def merged(self, changes: dict[str, Any]) -> FaultConfig:
        """This config with `changes` applied; unknown names are an error, not ignored."""
        return _replace(self, changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SimConfig:
    """The simulated exchange: universe size, lifecycle timing, FLB distortion, book shape."""

    seed: int = 7
    markets_target: int = 400
    market_lifetime_s: float = 1200.0
    settle_delay_s: float = 30.0
    tick_s: float = 10.0
    history_days: float = 2.0
    history_events: int = 600
    flb_slope: float = 1.09
    flb_intercept: float = 0.02
    spread_cents_min: int = 1
    spread_cents_max: int = 3
    book_levels: int = 5
    level_size_min: int = 20
    level_size_max: int = 400
    starting_balance_cents: int = 1_000_000
    clock_mode: str = "realtime"
    start_time: datetime | None = None
    families: tuple[str, ...] = FAMILIES
    public_keys: dict[str, str] = field(default_factory=dict)
    faults: FaultConfig = field(default_factory=FaultConfig)
    legacy: bool = False
    """Also serve the integer-cent/count fields and the legacy order endpoints that Kalshi
    removed (2026-03-12), for old clients."""
    rate_tier: str = "basic"
    """The API access tier whose token buckets the simulator enforces."""
    historical_cutoff_s: float = 7 * 86_400.0
    """Markets settled longer ago than this are served only by the historical endpoints
    (Kalshi keeps about three months live; a simulated past of a few days is all live unless
    a test moves the cutoff)."""
    weekly_maintenance: bool = True
    """Pause trading every Thursday 3-5 AM New York time, as Kalshi does."""
    fee_waiver_series: tuple[str, ...] = ()
    """Series whose markets trade fee-free until they close (`fee_waiver_expiration_time`)."""
    fee_changes: tuple[dict[str, Any], ...] = ()
    """Scheduled fee changes, as `GET /series/fee_changes` lists them (`series_ticker`,
    `fee_type`, `fee_multiplier`, `scheduled_ts`)."""

    def __post_init__(self) -> None:
        _require(self.seed >= 0, "seed must be >= 0")
        _require(self.markets_target >= 1, "markets_target must be >= 1")
        _require(self.tick_s > 0, "tick_s must be > 0")
        _require(self.market_lifetime_s >= self.tick_s, "market_lifetime_s must be >= tick_s")
        _require(self.settle_delay_s >= 0, "settle_delay_s must be >= 0")
        _require(self.history_days > 0 and self.history_events >= 0, "bad history settings")
        _require(self.flb_slope > 0, "flb_slope must be > 0")
        _require(
            1 <= self.spread_cents_min <= self.spread_cents_max <= 20,
            "need 1 <= spread_cents_min <= spread_cents_max <= 20",
        )
        _require(1 <= self.book_levels <= 50, "book_levels must be within 1..50")
        _require(1 <= self.level_size_min <= self.level_size_max, "bad level sizes")
        _require(self.starting_balance_cents >= 0, "starting_balance_cents must be >= 0")
        _require(self.clock_mode in CLOCK_MODES, f"clock_mode must be one of {CLOCK_MODES}")
        _require(
            bool(self.families) and set(self.families) <= set(FAMILIES),
            f"families must be a non-empty subset of {FAMILIES}",
        )
        _require(self.rate_tier in RATE_TIERS, f"rate_tier must be one of {RATE_TIERS}")
        _require(self.historical_cutoff_s > 0, "historical_cutoff_s must be > 0")

    def merged(self, changes: dict[str, Any]) -> SimConfig:
        """This config with wire-format `changes` (as posted to `/_sim/reset`) applied."""
        typed = dict(changes)
        if isinstance(typed.get("start_time"), str):
            typed["start_time"] = _parse_time(typed["start_time"])
        for name in ("families", "fee_waiver_series", "fee_changes"):
            if name in typed:
                typed[name] = tuple(typed[name])
        if isinstance(typed.get("faults"), dict):
            typed["faults"] = self.faults.merged(typed["faults"])
        return _replace(self, typed)


def _replace(config: Any, changes: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(changes) - known)
    _require(not unknown, f"unknown fields: {unknown}")
    try:
        return dataclasses.replace(config, **changes)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"start_time is not ISO-8601: {text!r}") from exc


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
