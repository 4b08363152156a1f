"""`flb demo`: a fresh trading session of the default deployment, through Dagster, in about a
minute.

The demo is a session OF the deployment, not a side show: it uses the deployment's store
(FLB_DB_PATH, default data/flb.duckdb), its Dagster instance (DAGSTER_HOME, default
data/dagster_home) and its embedded simulator (127.0.0.1 on FLB_SIM_PORT, default 8765). A
store that already holds a session is moved aside first, with its halt flag, exports and
reports, into a timestamped backup: nothing is lost. The simulator is reset to the demo's
world with its clock under the demo's control; the project's own Dagster jobs then run
in-process against the persistent instance: history and calibration, trading cycles with the
clock moving a few minutes between them so markets close and settle, a final reconciliation,
and the day's summary with its report. At the end the simulator's clock runs on in real time
from where the session got to, and the simulator keeps running, so `flb ui` continues the
same session against the same exchange and store.

The simulator is set to a favourite-longshot slope of 1.3 (the published Kalshi fit is 1.09):
at 1.09 the edge left after Kalshi's fee and a one-to-three cent spread is below the default
1-cent minimum almost everywhere, so a short demo would show no trades at all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.core.modes import EXECUTIONS, default_execution
from flb_pipeline.definitions import build_definitions
from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.exchange.embedded import (
    EmbeddedSimulator,
    advance_simulator_clock,
    find_or_start_simulator,
    reset_simulator,
    set_simulator_clock_mode,
)
from flb_pipeline.exchange.simulator import SimConfig
from flb_pipeline.operations import cli_store, dagster_home, print_daily_summary
from flb_pipeline.settings import Settings, SettingsError
from flb_pipeline.store import Store
from flb_pipeline.store.snapshots import table_counts

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEMO_SLOPE = 1.3
DEMO_HISTORY_EVENTS = 1500
SETTLE_SECONDS = 1800


def run_demo(*, seed: int, markets: int, cycles: int, minutes_per_cycle: float) -> int:
    settings = demo_settings(Settings.from_env())
    store = cli_store(settings)
    backup = set_aside_previous_session(store, settings)
    home = dagster_home()
    simulator = find_or_start_simulator(port=settings.sim_port)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    world = SimConfig(
        seed=seed, markets_target=markets, flb_slope=DEMO_SLOPE,
        history_events=DEMO_HISTORY_EVENTS, clock_mode="manual", start_time=start,
    )  # fmt: skip
    reset_simulator(simulator.url, world)
    execution = default_execution(settings.exchange, settings.execution)
    print(f"simulator  {simulator.url}  seed {seed}, ~{markets} open markets, b={DEMO_SLOPE}")
    print(f"store      {store.path}  ({execution} execution)\ndagster    {home}")
    if backup is not None:
        print(f"backup     the previous session is now in {backup}")
    print()
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.get()
    _prepare(defs, instance)
    for number in range(1, cycles + 1):
        now = advance_simulator_clock(simulator.url, minutes_per_cycle * 60)
        print(_cycle_line(number, now, _run(defs, "trading_job", instance, strict=False)))
    day = datetime.fromtimestamp(now, ZoneInfo(TRADING_TIMEZONE)).date()
    advance_simulator_clock(simulator.url, SETTLE_SECONDS)
    _run(defs, "reconcile_job", instance)
    _run(defs, "daily_summary_job", instance, partition_key=day.isoformat())
    realtime_from = set_simulator_clock_mode(simulator.url, "realtime")
    _print_results(store, settings, day, execution)
    _print_continuation(simulator, realtime_from)
    return 0


def demo_settings(settings: Settings) -> Settings:
    """The deployment's settings if the demo can honour every one of them: it trades only on
    its own simulator, so another exchange or address is refused, never silently ignored.
    FLB_EXECUTION is honoured (`paper` paper-fills against the simulator's books)."""
    if settings.exchange != "sim":
        raise SettingsError(
            f"FLB_EXCHANGE={settings.exchange}: the demo trades only against its own simulator;"
            " unset FLB_EXCHANGE (or set it to sim) to run it"
        )
    if settings.exchange_url:
        raise SettingsError(
            f"FLB_EXCHANGE_URL={settings.exchange_url}: the demo runs its own simulator on "
            f"127.0.0.1:{settings.sim_port} (FLB_SIM_PORT); unset FLB_EXCHANGE_URL to run it"
        )
    if settings.execution not in (None, *EXECUTIONS):
        raise SettingsError(
            f"FLB_EXECUTION={settings.execution}: not one of {', '.join(EXECUTIONS)}"
        )
    return settings


def set_aside_previous_session(store: Store, settings: Settings) -> Path | None:
    """Move the store's previous session (a store with rows, its WAL, the halt flag, the
    exports and reports) into `backups/<UTC time>/` beside it, so the demo starts fresh and
    nothing is lost. Opening the store first means a locked or unreadable store is refused
    (one line) before anything moves."""
    pieces = [
        store.path,
        store.path.with_name(store.path.name + ".wal"),
        store.halt_flag,
        Path(settings.exports_dir),
        Path(settings.reports_dir),
    ]
    if not _holds_a_session(store) and not any(p.exists() for p in pieces[2:]):
        return None
    backup = store.path.parent / "backups" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup.mkdir(parents=True)
    for piece in pieces:
        if piece.exists():
            piece.rename(backup / piece.name)
    return backup


def _holds_a_session(store: Store) -> bool:
    if not store.path.exists():
        store.ensure_directory()
        return False
    with store.connect() as con:
        return any(table_counts(con).values())


def _prepare(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    history = materialization_metadata(_run(defs, "history_job", instance), "settled_history")
    print(f"history    {history['settled_markets']} settled markets with pre-close prices")
    calibration = _run(
        defs, "calibration_job", instance, run_config=calibration_run_config(EDGE_ONLY_GATE)
    )
    model = materialization_metadata(calibration, "win_probability_model")
    slopes = ", ".join(
        f"{row.data['horizon']} {row.data['slope']:.3f} ± {row.data['se']:.3f}"
        for row in model["horizon_slopes"].records
        if row.data["train_points"]
    )
    print(f"model      {model['model_id']}: slope by time to close {slopes or 'prior only'}")
    if "edge_summary" in model:
        print(
            f"           held-out Brier {model['brier_model']:.5f} vs price"
            f" {model['brier_price']:.5f}; {model['cells_tested']} cells tested"
        )
        for line in str(model["edge_summary"]).splitlines():
            print(f"edge       {line}")
    print()


def _cycle_line(number: int, now_ts: float, result: dg.ExecuteInProcessResult) -> str:
    clock = datetime.fromtimestamp(now_ts, ZoneInfo(TRADING_TIMEZONE)).strftime("%H:%M")
    blocked = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    if not result.asset_materializations_for_node("trade_candidates"):
        return f"cycle {number:02d}  {clock} NY  no decision: {', '.join(blocked) or 'failed'}"
    candidates = materialization_metadata(result, "trade_candidates")
    line = f"cycle {number:02d}  {clock} NY  {candidates['candidates']:>2} candidates"
    if blocked:
        return f"{line}  BLOCKED by {', '.join(blocked)}"
    orders = materialization_metadata(result, "order_submissions")
    positions = materialization_metadata(result, "positions")
    trades = materialization_metadata(result, "closed_trades")
    return (
        f"{line}  sent {orders['orders_sent']:>2}  filled {orders['contracts_filled']:>5}"
        f"  open lots {positions['open_lots']:>3}  closed trades {trades['trades']:>3}"
        f"  net P&L ${trades['net_pnl']:>8.2f}  capital ${positions['capital']:>9.2f}"
    )


def _print_results(store: Store, settings: Settings, day: date, execution: str) -> None:
    print()
    print_daily_summary(store, day, execution)
    with store.connect() as con:
        counts = table_counts(con)
    report = Path(settings.reports_dir) / "daily" / day.isoformat()
    exports = Path(settings.exports_dir)
    print(f"\nreport     {report / 'report.html'}  (and report.md)")
    print(f"plots      {', '.join(sorted(p.name for p in report.glob('*.png')))}")
    print(f"json       {exports / 'daily' / f'{day}.json'}")
    print(f"trade log  {exports / 'trades_log.csv'}")
    print(f"tables     {', '.join(f'{name} {rows}' for name, rows in counts.items() if rows)}")


def _print_continuation(simulator: EmbeddedSimulator, realtime_from: float) -> None:
    clock = datetime.fromtimestamp(realtime_from, ZoneInfo(TRADING_TIMEZONE)).strftime("%H:%M")
    pid = simulator.pid()
    print(
        f"\nthe session goes on: the simulator keeps running at {simulator.url},"
        f" its clock now in real time from {clock} NY.\n"
        "`flb ui` continues this session (same exchange, store and Dagster instance);"
        " `flb status` and `flb report` read it too."
    )
    if pid is not None:
        print(f"stop the simulator with: kill {pid}")


def _run(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    strict: bool = True,
    partition_key: str | None = None,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        run_config={**QUIET, **(run_config or {})},
        raise_on_error=False,
        partition_key=partition_key,
    )
    if strict and not result.success:
        raise SystemExit(f"{job_name} failed: see run {result.run_id} in `flb ui`")
    return result


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The plain values of `asset`'s one materialisation in `result`."""
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
