"""`flb demo`: a trading session against a fresh simulator, through Dagster, in about a minute.

A simulator starts on a free loopback port with its clock under the demo's control. The
project's own Dagster jobs then run in-process against a persistent instance (DAGSTER_HOME,
default data/dagster_home, so the runs show up in `flb ui` afterwards): history and
calibration, a session of trading cycles with the clock moving a few minutes between them so
markets close and settle, a final reconciliation, and the day's summary with its report.

The simulator is set to a favourite-longshot slope of 1.3 (the published Kalshi fit is 1.09):
at 1.09 the edge left after Kalshi's fee and a one-to-three cent spread is below the default
1-cent minimum almost everywhere, so a short demo would show no trades at all.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from flb_pipeline.core.calendar import TRADING_TIMEZONE
from flb_pipeline.definitions import build_definitions
from flb_pipeline.exchange.embedded import advance_simulator_clock
from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline.operations import dagster_home, print_daily_summary
from flb_pipeline.settings import Settings
from flb_pipeline.store import Store
from flb_pipeline.store.snapshots import table_counts

DEMO_DIR = Path("data/demo")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEMO_SLOPE = 1.3


def run_demo(*, seed: int, markets: int, cycles: int, minutes_per_cycle: float) -> int:
    home = dagster_home()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    config = SimConfig(
        seed=seed, markets_target=markets, flb_slope=DEMO_SLOPE, history_events=1500,
        clock_mode="manual", start_time=start,
    )  # fmt: skip
    with SimulatorServer(config) as simulator:
        print(f"simulator  {simulator.url}  seed {seed}, ~{markets} open markets, b={DEMO_SLOPE}")
        print(f"store      {DEMO_DIR / 'flb.duckdb'}\ndagster    {home}\n")
        defs = _definitions(simulator.url)
        instance = dg.DagsterInstance.get()
        _prepare(defs, instance)
        for number in range(1, cycles + 1):
            now = advance_simulator_clock(simulator.url, minutes_per_cycle * 60)
            print(_cycle_line(number, now, _run(defs, "trading_job", instance, strict=False)))
        advance_simulator_clock(simulator.url, 1800)
        _run(defs, "reconcile_job", instance)
        day = datetime.fromtimestamp(now, ZoneInfo(TRADING_TIMEZONE)).date()
        _run(defs, "daily_summary_job", instance, partition_key=day.isoformat())
    _print_results(day)
    return 0


def _definitions(exchange_url: str) -> dg.Definitions:
    return build_definitions(
        Settings(db_path=str(DEMO_DIR / "flb.duckdb"), exchange="sim", exchange_url=exchange_url)
    )


def _prepare(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    history = materialization_metadata(_run(defs, "history_job", instance), "settled_history")
    print(f"history    {history['settled_markets']} settled markets with pre-close prices")
    model = materialization_metadata(
        _run(defs, "calibration_job", instance), "win_probability_model"
    )
    print(
        f"model      {model['model_id']}: b = {model['slope']:.3f} ± {model['slope_se']:.3f}, "
        f"Brier {model['brier_model']:.5f} vs price {model['brier_price']:.5f}; "
        f"tradeable {model['tradeable_buckets']}\n"
    )


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


def _print_results(day: date) -> None:
    store = Store(DEMO_DIR / "flb.duckdb")
    print()
    print_daily_summary(store, day, "exchange")
    with store.connect() as con:
        counts = table_counts(con)
    report = DEMO_DIR / "reports" / "daily" / day.isoformat()
    print(f"\nreport     {report / 'report.html'}  (and report.md)")
    print(f"plots      {', '.join(sorted(p.name for p in report.glob('*.png')))}")
    print(f"json       {DEMO_DIR / 'exports' / 'daily' / f'{day}.json'}")
    print(f"trade log  {DEMO_DIR / 'exports' / 'trades_log.csv'}")
    print(f"tables     {', '.join(f'{name} {rows}' for name, rows in counts.items() if rows)}")
    print("\nthe runs are in the Dagster UI: flb ui")


def _run(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    strict: bool = True,
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False, partition_key=partition_key
    )
    if strict and not result.success:
        raise SystemExit(f"{job_name} failed: see run {result.run_id} in `flb ui`")
    return result


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The plain values of `asset`'s one materialisation in `result`."""
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
