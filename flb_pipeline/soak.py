"""`flb soak --minutes N`: trading cycles back to back against the simulator under faults at
realistic rates, then proof that nothing was lost or duplicated.

The soak runs the project's own Dagster jobs in-process, as `flb demo` does, on a store and
instance of its own (never the deployment's) and a simulator process of its own on a free
port with a manual clock. Each cycle is one sensor slot: the clock moves 30 simulated
seconds, the fault schedule sets the exchange's fault knobs for that cycle, and
`trading_job` runs; `reconcile_job` and `history_job` run at their schedules' cadence in
simulated time. At the end faults are cleared, the ledger is reconciled once more and the
figures are printed: cycles by outcome, orders sent, local positions against the exchange's,
duplicate and unaccounted orders, lost snapshots, every kill-switch trip with its reason,
cycle latency and store growth. The command exits non-zero when an integrity figure fails.

Like the demo, the simulated world has a favourite-longshot slope of 1.3 so that cycles
trade (at the published 1.09 almost nothing clears the fee).
"""

from __future__ import annotations

import shutil
import socket
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from tqdm import tqdm

from flb_pipeline.core.ledger import position_mismatches
from flb_pipeline.core.risk import TRIP, RiskEvent
from flb_pipeline.definitions import build_definitions
from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.defs.resources import ExchangeResource
from flb_pipeline.defs.sensors import CYCLE_SECONDS
from flb_pipeline.demo import DEMO_HISTORY_EVENTS, DEMO_SLOPE, QUIET, materialization_metadata
from flb_pipeline.exchange.embedded import (
    advance_simulator_clock,
    find_or_start_simulator,
    reset_simulator,
    root_url,
    simulator_now,
)
from flb_pipeline.exchange.simulator import FaultConfig, SimConfig
from flb_pipeline.operations import PROJECT_ROOT
from flb_pipeline.settings import Settings
from flb_pipeline.store import Store
from flb_pipeline.store.integrity import (
    ScanOutcomes,
    acknowledged_orders,
    checkpoint,
    net_open_contracts,
    orders_by_status,
    position_corrections,
    scan_outcomes,
)
from flb_pipeline.store.ledger import UNRESOLVED
from flb_pipeline.store.risk import risk_events

EXECUTION = "exchange"
RECONCILE_EVERY = 10
"""Cycles between reconcile_job runs: every 5 simulated minutes, as its schedule."""
HISTORY_EVERY = 60
"""Cycles between history_job runs: every 30 simulated minutes, as its schedule."""


@dataclass(frozen=True)
class FaultEpisode:
    """Fault knobs switched on for `lasting` cycles out of every `every`, from `offset`."""

    name: str
    knobs: Mapping[str, Any]
    every: int
    lasting: int = 1
    offset: int = 0

    def active(self, cycle: int) -> bool:
        return (cycle - self.offset) % self.every < self.lasting and cycle >= self.offset


BACKGROUND_FAULTS: Mapping[str, Any] = {"error_rate": 0.05}
"""Throughout: 5% of requests answered with a 500 (retries absorb almost all of them)."""
FAULT_SCHEDULE = (
    FaultEpisode("429 burst", {"burst_429": 6}, every=15, offset=3),
    FaultEpisode("latency spike", {"latency_ms": 600.0}, every=20, lasting=2, offset=7),
    FaultEpisode("frozen books", {"frozen_books": True}, every=40, lasting=2, offset=12),
    FaultEpisode("partial fills", {"partial_fill_ratio": 0.5}, every=10, lasting=3, offset=1),
    FaultEpisode("rejects", {"reject_orders": "insufficient_balance"}, every=120, offset=9),
)
"""One cycle is 30 simulated seconds: a 429 burst every 7.5 minutes, a minute of 600 ms
latency every 10, a minute of frozen books every 20, a minute and a half of half-filled
orders every 5, and one cycle of rejected orders an hour. A new kind of fault is one more
entry."""


def faults_for(cycle: int) -> dict[str, Any]:
    """The complete fault knobs for `cycle`: the background, each active episode's knobs,
    and every other episode's knobs back at their defaults."""
    off = FaultConfig()
    knobs = {name: getattr(off, name) for e in FAULT_SCHEDULE for name in e.knobs}
    knobs.update(BACKGROUND_FAULTS)
    for episode in FAULT_SCHEDULE:
        if episode.active(cycle):
            knobs.update(episode.knobs)
    return knobs


@dataclass(frozen=True)
class Cycle:
    """One trading_job run: how it ended, what it sent, how long it took (wall seconds)."""

    outcome: str
    """traded, no orders, blocked (a risk or quality check) or failed (a step failed)."""
    orders_sent: int
    latency_s: float
    blocked_by: tuple[str, ...] = ()


def cycle_of(result: dg.ExecuteInProcessResult, latency_s: float) -> Cycle:
    blocked = tuple(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    if result.asset_materializations_for_node("order_submissions"):
        sent = materialization_metadata(result, "order_submissions")["orders_sent"]
        return Cycle("traded" if sent else "no orders", sent, latency_s)
    if blocked:
        return Cycle("blocked", 0, latency_s, blocked)
    return Cycle("failed", 0, latency_s)


@dataclass
class SoakLog:
    cycles: list[Cycle] = field(default_factory=list)
    other_runs: Counter[str] = field(default_factory=Counter)
    """reconcile_job / history_job runs by job and status."""


@dataclass(frozen=True)
class SoakFigures:
    """What the soak proves and measures; `failures` are the integrity figures that fail."""

    log: SoakLog
    scans: ScanOutcomes
    orders: dict[str, int]
    exchange_orders: int
    duplicate_orders: int
    unaccounted_orders: int
    position_mismatches: list[tuple[str, Any, Any]]
    position_corrections: int
    trips: list[RiskEvent]
    simulated_hours: float
    wall_hours: float
    store_growth_bytes: int

    def failures(self) -> list[str]:
        checks = {
            "duplicate orders": self.duplicate_orders,
            "orders unaccounted for (ours or the exchange's)": self.unaccounted_orders,
            "unresolved orders": sum(self.orders.get(s, 0) for s in UNRESOLVED),
            "lost snapshots (scans)": self.scans.lost,
            "markets where local positions differ from the exchange's": len(
                self.position_mismatches
            ),
            "positions adopted from the exchange": self.position_corrections,
        }
        failed = [f"{name}: {value}" for name, value in checks.items() if value]
        if not self.log.cycles:
            failed.append("no cycle ran")
        return failed


def run_soak(*, minutes: float, seed: int, markets: int, directory: Path) -> int:
    """The soak; 0 when every integrity figure holds, 1 otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    store = Store(directory / "flb.duckdb")
    simulator = find_or_start_simulator(port=_free_port(), log_dir=directory)
    try:
        reset_simulator(simulator.url, _world(seed, markets))
        defs = build_definitions(
            Settings(db_path=str(store.path), exchange="sim", exchange_url=simulator.url)
        )
        with dg.DagsterInstance.from_config(str(_instance_home(directory))) as instance:
            _print_start(simulator.url, store, minutes)
            _prepare(defs, instance)
            figures = _soak(defs, instance, simulator.url, store, minutes)
    finally:
        simulator.stop()
    print_figures(figures)
    return 1 if figures.failures() else 0


def _world(seed: int, markets: int) -> SimConfig:
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    return SimConfig(
        seed=seed, markets_target=markets, flb_slope=DEMO_SLOPE,
        history_events=DEMO_HISTORY_EVENTS, clock_mode="manual", start_time=start,
    )  # fmt: skip


def _instance_home(directory: Path) -> Path:
    """A Dagster instance of the soak's own (runs, events) beside its store, with the
    project's instance settings."""
    home = directory / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    settings = PROJECT_ROOT / "dagster.yaml"
    if settings.is_file():
        shutil.copyfile(settings, home / "dagster.yaml")
    return home


def _prepare(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    _run(defs, instance, "history_job", strict=True)
    gate = calibration_run_config(EDGE_ONLY_GATE)
    _run(defs, instance, "calibration_job", run_config=gate, strict=True)


def _soak(
    defs: dg.Definitions, instance: dg.DagsterInstance, url: str, store: Store, minutes: float
) -> SoakFigures:
    log = SoakLog()
    start_bytes, start_sim = store_bytes(store), simulator_now(url)
    started = time.monotonic()
    deadline = started + minutes * 60
    with tqdm(total=round(minutes * 60), unit="s", desc="soak", disable=None) as bar:
        while time.monotonic() < deadline:
            _one_cycle(defs, instance, url, log)
            bar.n = min(bar.total, round(time.monotonic() - started))
            bar.set_postfix(cycles=len(log.cycles), orders=sum(c.orders_sent for c in log.cycles))
    wall_hours = (time.monotonic() - started) / 3600
    simulated_hours = (simulator_now(url) - start_sim) / 3600
    _set_faults(url, {name: getattr(FaultConfig(), name) for name in faults_for(0)})
    _run(defs, instance, "reconcile_job", strict=True)
    return _figures(log, url, store, simulated_hours, wall_hours, store_bytes(store) - start_bytes)


def _one_cycle(defs: dg.Definitions, instance: dg.DagsterInstance, url: str, log: SoakLog) -> None:
    number = len(log.cycles) + 1
    _set_faults(url, faults_for(number))
    advance_simulator_clock(url, CYCLE_SECONDS)
    began = time.perf_counter()
    result = _run(defs, instance, "trading_job")
    log.cycles.append(cycle_of(result, time.perf_counter() - began))
    for job, every in (("reconcile_job", RECONCILE_EVERY), ("history_job", HISTORY_EVERY)):
        if number % every == 0:
            status = "succeeded" if _run(defs, instance, job).success else "failed"
            log.other_runs[f"{job} {status}"] += 1


def _run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job: str,
    *,
    run_config: dict[str, Any] | None = None,
    strict: bool = False,
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, run_config={**QUIET, **(run_config or {})}, raise_on_error=False
    )
    if strict and not result.success:
        raise SystemExit(f"flb soak: {job} failed (run {result.run_id})")
    return result


def _figures(
    log: SoakLog,
    url: str,
    store: Store,
    simulated_hours: float,
    wall_hours: float,
    growth: int,
) -> SoakFigures:
    exchange = ExchangeResource(exchange="sim", base_url=url)
    with closing(exchange.client(now=lambda: datetime.now(UTC))) as client:
        their_orders = client.orders()
        their_positions = {p.ticker: p.position for p in client.positions() if p.position}
    ids = Counter(order.client_order_id for order in their_orders)
    with store.connect() as con:
        ours = set(acknowledged_orders(con, EXECUTION))
        figures = SoakFigures(
            log=log,
            scans=scan_outcomes(con, store.archive_dir),
            orders=orders_by_status(con, EXECUTION),
            exchange_orders=len(their_orders),
            duplicate_orders=sum(n - 1 for n in ids.values() if n > 1),
            unaccounted_orders=len(ours ^ set(ids)),
            position_mismatches=position_mismatches(
                net_open_contracts(con, EXECUTION), their_positions
            ),
            position_corrections=position_corrections(con, EXECUTION),
            trips=[event for event in risk_events(con) if event.kind == TRIP],
            simulated_hours=simulated_hours,
            wall_hours=wall_hours,
            store_growth_bytes=growth,
        )
    return figures


def store_bytes(store: Store) -> int:
    """The store on disk after a checkpoint: the DuckDB file, its WAL and the archive."""
    with store.connect() as con:
        checkpoint(con)
    wal = store.path.with_name(store.path.name + ".wal")
    files = [store.path, wal, *store.archive_dir.rglob("*")]
    return sum(path.stat().st_size for path in files if path.is_file())


def _set_faults(url: str, knobs: Mapping[str, Any]) -> None:
    response = httpx.post(f"{root_url(url)}/_sim/faults", json=dict(knobs), timeout=30)
    response.raise_for_status()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _print_start(url: str, store: Store, minutes: float) -> None:
    print(f"simulator  {url}  (its own, manual clock, b={DEMO_SLOPE})")
    print(f"store      {store.path}")
    print(f"soak       {minutes:g} minutes of cycles, {CYCLE_SECONDS} simulated s apart")
    background = ", ".join(f"{k}={v}" for k, v in BACKGROUND_FAULTS.items())
    print(f"faults     always {background}")
    for e in FAULT_SCHEDULE:
        knobs = ", ".join(f"{k}={v}" for k, v in e.knobs.items())
        print(f"           {e.name}: {knobs} for {e.lasting} of every {e.every} cycles")
    print()


def print_figures(figures: SoakFigures) -> None:
    cycles = figures.log.cycles
    outcomes = Counter(c.outcome for c in cycles)
    blocked = Counter(name for c in cycles for name in c.blocked_by)
    latencies = sorted(c.latency_s for c in cycles)
    growth_mb = figures.store_growth_bytes / 1e6
    print(f"cycles run           {len(cycles)}  ({_counts(outcomes)})")
    print(f"blocked by           {_counts(blocked) or 'nothing'}")
    print(f"other runs           {_counts(figures.log.other_runs) or 'none'}")
    print(f"orders sent          {sum(c.orders_sent for c in cycles)}"
          f"  (exchange holds {figures.exchange_orders}; ours by status:"
          f" {_counts(figures.orders)})")  # fmt: skip
    print(f"duplicate orders     {figures.duplicate_orders}")
    print(f"unaccounted orders   {figures.unaccounted_orders}")
    print(f"positions            {_positions_line(figures)}")
    print(f"scans                {figures.scans.complete} complete, {figures.scans.failed} failed,"
          f" {figures.scans.unfinished} unfinished")  # fmt: skip
    print(f"lost snapshots       {figures.scans.lost}")
    print(f"kill-switch trips    {len(figures.trips)}")
    for trip in figures.trips:
        print(f"  {trip.event_ts:%Y-%m-%d %H:%M:%S}  {trip.check}: {trip.reason}")
    if latencies:
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(f"cycle latency        p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s")
    print(f"store growth         {growth_mb:.1f} MB over {figures.simulated_hours:.2f} simulated"
          f" h ({growth_mb / max(figures.simulated_hours, 1e-9):.1f} MB per hour at one cycle"
          f" per {CYCLE_SECONDS} s; {growth_mb / max(figures.wall_hours, 1e-9):.1f} MB per"
          f" wall-clock hour of this soak)")  # fmt: skip
    failures = figures.failures()
    print("\nintegrity            " + ("FAILED: " + "; ".join(failures) if failures else "holds"))


def _positions_line(figures: SoakFigures) -> str:
    if figures.position_mismatches:
        shown = ", ".join(f"{t} ours {a} theirs {b}" for t, a, b in figures.position_mismatches)
        return f"DIFFER from the exchange's: {shown}"
    return (
        "local positions equal the exchange's"
        f" ({figures.position_corrections} adopted from it by reconciliation)"
    )


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items()))


def default_directory() -> Path:
    """`data/soak/<UTC time>/`: each soak keeps its store, instance and simulator log."""
    return Path("data") / "soak" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
