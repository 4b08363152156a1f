"""Dagster resources: the store, the exchange, and the one clock every rule reads."""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from flb_pipeline.core.modes import TradingMode, resolve_trading_mode
from flb_pipeline.core.risk import RiskLimits
from flb_pipeline.core.sizing import ExposureCaps
from flb_pipeline.defs.runs import tag_run_worker
from flb_pipeline.exchange.client import (
    DEMO_URL,
    ORDER_BATCH,
    PROD_URL,
    ClientSettings,
    Credentials,
    KalshiClient,
)
from flb_pipeline.exchange.embedded import ensure_embedded_simulator, simulator_now
from flb_pipeline.exchange.limits import tier_limits
from flb_pipeline.exchange.signing import load_private_key
from flb_pipeline.settings import DEFAULT_DB_PATH, Settings, creates_data_directory
from flb_pipeline.store import Store, StoreUnavailable

KEY_ID_ENV = "KALSHI_API_KEY_ID"
CONTROL_JOBS = frozenset({"halt_job", "resume_job"})
PRIVATE_KEY_ENV = "KALSHI_PRIVATE_KEY_PATH"
LIVE_TRADING_ENV = "FLB_LIVE_TRADING"


class StoreResource(dg.ConfigurableResource):
    """The DuckDB file (FLB_DB_PATH). Each unit of work takes a short-lived connection (see
    `Store`); the database stays open for the run, which makes those connections cheap.
    Only the default `data/` directory is created if missing."""

    db_path: str = DEFAULT_DB_PATH
    lock_timeout_s: float = 30.0

    def store(self, lock_timeout_s: float | None = None) -> Store:
        """The store; `lock_timeout_s` shortens the wait for a caller that would rather come
        back later (a sensor tick) than queue behind a run."""
        return Store(
            self.db_path,
            lock_timeout_s=self.lock_timeout_s if lock_timeout_s is None else lock_timeout_s,
            create_directory=creates_data_directory(self.db_path),
        )

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["StoreResource"]:
        """Hold the database for the run, except in the manual-control jobs (a halt must
        never queue behind a lock) and outside runs (a sensor tick connects briefly instead).
        A store that cannot be opened fails the run before any step starts, with its one-line
        reason. The run's worker is recorded first, so a worker that dies holding the DuckDB
        pool slot can be reaped (`defs.runs`)."""
        if context.run is not None and context.instance is not None:
            tag_run_worker(context.instance, context.run.run_id)
        if context.run is None or context.run.job_name in CONTROL_JOBS:
            yield self
            return
        with ExitStack() as held:
            try:
                held.enter_context(self.store().held_open())
            except StoreUnavailable as error:
                context.log.error(str(error))
                raise dg.Failure(description=str(error)) from None  # the line says it all
            yield self


class ExchangeResource(dg.ConfigurableResource):
    """Which Kalshi-compatible exchange to talk to, and how hard.

    `exchange` is sim | demo | prod; `base_url` (FLB_EXCHANGE_URL) overrides the address, e.g.
    a running `flb sim`. Without it, `sim` uses the embedded simulator on 127.0.0.1 at
    `embedded_port` (unset: FLB_SIM_PORT, default 8765), starting it on demand; `flb demo`
    and `flb ui` use the same port, so they share one exchange. Keys come from the
    environment only and never appear in config, logs or metadata.
    """

    exchange: str = "sim"
    base_url: str | None = None
    execution: str | None = None
    timeout_s: float = 10.0
    reads_per_s: float = 20.0
    writes_per_s: float = 10.0
    max_attempts: int = 4
    markets_page_limit: int = 1000
    embedded_port: int | None = None
    embedded_seed: int = 7
    _resolved_url: str | None = PrivateAttr(default=None)

    def url(self) -> str:
        if self._resolved_url is None:
            self._resolved_url = self._locate()
        return self._resolved_url

    def _locate(self) -> str:
        if self.base_url:
            return self.base_url
        if self.exchange == "sim":
            port = self.embedded_port or Settings.from_env().sim_port
            return ensure_embedded_simulator(port=port, seed=self.embedded_seed)
        return PROD_URL if self.exchange == "prod" else DEMO_URL

    def trading_mode(self) -> TradingMode:
        """Raises `TradingRefused`, naming what is missing, for a mode we may not run."""
        return resolve_trading_mode(
            self.exchange,
            self.execution,
            base_url=self.base_url,
            live_trading=os.environ.get(LIVE_TRADING_ENV),
            has_key_id=bool(os.environ.get(KEY_ID_ENV)),
            has_private_key=_readable(os.environ.get(PRIVATE_KEY_ENV)),
        )

    def client(self, now: Callable[[], datetime]) -> KalshiClient:
        """A fresh client; `now` (the clock resource's) stamps its `api_calls` rows, so a
        simulated clock and the recorded calls agree."""
        settings = ClientSettings(
            base_url=self.url(),
            timeout_s=self.timeout_s,
            reads_per_s=self.reads_per_s,
            writes_per_s=self.writes_per_s,
            max_attempts=self.max_attempts,
            markets_page_limit=self.markets_page_limit,
        )
        credentials = _credentials_from_env()
        client = KalshiClient(settings, credentials, now=now)
        if credentials is not None or self.exchange == "sim":
            limits = tier_limits(client)
            if limits is not None:
                client.size_rate_limits(limits)
        return client


def exchange_resource(settings: Settings) -> ExchangeResource:
    """The deployment's exchange as its settings (FLB_EXCHANGE, FLB_EXCHANGE_URL,
    FLB_EXECUTION) name it."""
    return ExchangeResource(
        exchange=settings.exchange, base_url=settings.exchange_url, execution=settings.execution
    )


class ClockResource(dg.ConfigurableResource):
    """`now` for every time-dependent rule (DESIGN §5.5).

    `system` is the wall clock; `exchange` follows the simulator's `/_sim/clock`, read once
    when a run starts and carried forward by the wall clock, so tests can move time.
    """

    exchange: dg.ResourceDependency[ExchangeResource]
    source: str = "system"
    _offset_s: float = PrivateAttr(default=0.0)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.source == "exchange":
            url = self.exchange.url()
            try:
                self._offset_s = simulator_now(url) - time.time()
            except httpx.HTTPError as error:
                raise dg.Failure(f"cannot read the simulator clock at {url}: {error}") from error
        elif self.source != "system":
            raise dg.Failure(f"clock source {self.source!r} is not one of system, exchange")

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset_s)


def _readable(path: str | None) -> bool:
    return path is not None and Path(path).is_file() and os.access(path, os.R_OK)


def _credentials_from_env() -> Credentials | None:
    key_id = os.environ.get(KEY_ID_ENV)
    key_path = os.environ.get(PRIVATE_KEY_ENV)
    if not key_id or key_path is None or not _readable(key_path):
        return None
    return Credentials(key_id, load_private_key(Path(key_path)))


DEFAULT_LIMITS = RiskLimits()


class RiskResource(dg.ConfigurableResource):
    """Kill-switch thresholds and exposure caps (DESIGN §6), echoed in every cycle's metadata."""

    daily_loss_dollars: float = float(DEFAULT_LIMITS.daily_loss_dollars)
    daily_loss_fraction: float = float(DEFAULT_LIMITS.daily_loss_fraction)
    trading_timezone: str = DEFAULT_LIMITS.trading_timezone
    loss_streak_length: int = DEFAULT_LIMITS.loss_streak_length
    loss_streak_pause_hours: float = DEFAULT_LIMITS.loss_streak_pause / timedelta(hours=1)
    max_median_slippage_bps: float = DEFAULT_LIMITS.max_median_slippage_bps
    slippage_fills: int = DEFAULT_LIMITS.slippage_fills
    max_api_errors: int = DEFAULT_LIMITS.max_api_errors
    error_window_minutes: float = DEFAULT_LIMITS.error_window / timedelta(minutes=1)
    max_quote_age_seconds: float = DEFAULT_LIMITS.max_quote_age.total_seconds()
    no_fill_scans: int = DEFAULT_LIMITS.no_fill_scans
    position_fraction: float = float(DEFAULT_LIMITS.position_fraction)
    group_fraction: float = float(DEFAULT_LIMITS.group_fraction)
    total_fraction: float = float(DEFAULT_LIMITS.total_fraction)

    def limits(self) -> RiskLimits:
        return RiskLimits(
            daily_loss_dollars=_decimal(self.daily_loss_dollars),
            daily_loss_fraction=_decimal(self.daily_loss_fraction),
            trading_timezone=self.trading_timezone,
            loss_streak_length=self.loss_streak_length,
            loss_streak_pause=timedelta(hours=self.loss_streak_pause_hours),
            max_median_slippage_bps=self.max_median_slippage_bps,
            slippage_fills=self.slippage_fills,
            max_api_errors=self.max_api_errors,
            error_window=timedelta(minutes=self.error_window_minutes),
            max_quote_age=timedelta(seconds=self.max_quote_age_seconds),
            no_fill_scans=self.no_fill_scans,
            position_fraction=_decimal(self.position_fraction),
            group_fraction=_decimal(self.group_fraction),
            total_fraction=_decimal(self.total_fraction),
        )

    def caps(self) -> ExposureCaps:
        return self.limits().caps


class TradingResource(dg.ConfigurableResource):
    """How decisions become orders, and the correlation-grouping knobs.

    `order_style` taker sends IOC limits at the ask (plus `limit_slippage_cents`), sized to the
    book depth within that limit; maker rests post-only GTC orders one tick inside the ask;
    the next trading cycle cancels them before it sends its own, so orders never stack.
    `order_batch_size` orders go out per batched create (Kalshi takes at most 20); the quote
    age and the halt are checked again before each batch.
    """

    order_style: str = "taker"
    limit_slippage_cents: int = 0
    max_orders_per_cycle: int = 10
    order_batch_size: int = Field(default=ORDER_BATCH, ge=1, le=ORDER_BATCH)
    book_depth: int = 10
    paper_starting_capital: float = 10_000.0
    correlation_threshold: float = 0.5
    correlation_scans: int = 60
    correlation_min_observations: int = 20

    def paper_capital(self) -> Decimal:
        """The paper account's starting capital, exact."""
        return _decimal(self.paper_starting_capital)


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


class ReportsResource(dg.ConfigurableResource):
    """Where files for humans go: the trade log and daily exports, reports and plots."""

    exports_dir: str = "data/exports"
    reports_dir: str = "data/reports"

    def exports(self) -> Path:
        return Path(self.exports_dir)

    def reports(self) -> Path:
        return Path(self.reports_dir)
