"""What the `flb` commands do. Everything that trades goes through Dagster jobs."""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from flb_pipeline.core.calendar import TRADING_TIMEZONE, trading_day_window
from flb_pipeline.core.modes import default_execution
from flb_pipeline.defs import control
from flb_pipeline.defs.daily_summary import build_daily_summary
from flb_pipeline.exchange.embedded import simulator_now
from flb_pipeline.exchange.simulator import FaultConfig, SimConfig, serve_forever
from flb_pipeline.reports.daily import BUCKET_HEADER, bucket_rows, summary_rows
from flb_pipeline.settings import DEFAULT_DAGSTER_HOME, Settings
from flb_pipeline.store import Store
from flb_pipeline.store.health import kill_switch_states
from flb_pipeline.store.snapshots import table_counts

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def dagster_home() -> Path:
    """DAGSTER_HOME (default data/dagster_home) holding the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    source = PROJECT_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    if source.is_file() and (not target.exists() or target.read_text() != source.read_text()):
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def sim_config_from(args: argparse.Namespace) -> SimConfig:

    faults = FaultConfig(
        error_rate=args.error_rate,
        burst_429=args.burst_429,
        latency_ms=args.latency_ms,
        malformed_rate=args.malformed_rate,
        frozen_books=args.frozen_books,
        reject_orders=args.reject_orders,
        partial_fill_ratio=args.partial_fill_ratio,
        crossed_book_rate=args.crossed_book_rate,
    )
    return SimConfig(
        seed=args.seed,
        markets_target=args.markets,
        market_lifetime_s=args.lifetime,
        history_days=args.history_days,
        history_events=args.history_events,
        flb_slope=args.flb_slope,
        clock_mode=args.clock,
        faults=faults,
    )


def sim(args: argparse.Namespace) -> int:
    config = sim_config_from(args)
    print(f"simulator on http://{args.host}:{args.port}/trade-api/v2 (seed {config.seed})")
    serve_forever(config, args.host, args.port)
    return 0


def ui(args: argparse.Namespace) -> int:
    from flb_pipeline.exchange.embedded import ensure_embedded_simulator

    home = dagster_home()
    url = ensure_embedded_simulator(port=args.sim_port)
    env = {**os.environ, "FLB_EXCHANGE_URL": url, "DAGSTER_HOME": str(home)}
    print(f"simulator: {url}\nDagster UI: http://127.0.0.1:{args.port}")
    dagster = shutil.which("dagster") or "dagster"
    command = [dagster, "dev", "-w", "workspace.yaml", "-p", str(args.port)]
    return subprocess.call(command, cwd=PROJECT_ROOT, env=env)


def status(args: argparse.Namespace) -> int:
    """Rows per table, the manual halt, and every kill switch's latest verdict."""
    store = Store(Settings.from_env().db_path)
    with store.connect() as con:
        counts = table_counts(con)
        switches = kill_switch_states(con)
    halted = control.halt_state(store)
    print(f"store: {store.path}")
    print_table(["table", "rows"], [[name, str(rows)] for name, rows in counts.items()])
    state = f"ON since {halted.event_ts:%Y-%m-%d %H:%M:%S} ({halted.reason})" if halted else "off"
    print(f"\nmanual halt: {state}")
    rows = [[s["check_name"], "pass" if s["passed"] else "FAIL", s["reason"]] for s in switches]
    print_table(["kill switch", "latest", "reason"], rows or [["-", "-", "no cycle yet"]])
    return 0


def report(args: argparse.Namespace) -> int:
    """The daily summary of `--day`, computed from the store as the asset computes it."""
    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        print(f"flb report: --day must be YYYY-MM-DD, not {args.day!r}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    execution = default_execution(settings.exchange, settings.execution)
    print_daily_summary(Store(settings.db_path), day, execution)
    return 0


def print_daily_summary(store: Store, day: date, execution: str) -> None:
    start, end = trading_day_window(day)
    with store.connect() as con:
        summary = build_daily_summary(
            con, day=day.isoformat(), start=start, end=end,
            execution=execution, timezone=TRADING_TIMEZONE,
        )  # fmt: skip
    document = summary.document
    print(f"Daily summary {document['day']} ({document['execution']} execution, New York day)")
    if document["note"]:
        print(document["note"])
    print_table(["metric", "value"], [list(row) for row in summary_rows(document)])
    print()
    print_table(BUCKET_HEADER, [list(row) for row in bucket_rows(document)])


def bench(args: argparse.Namespace) -> int:
    """Benchmarks live beside the package in a checkout; figures go to benchmarks/RESULTS.md."""
    if not (PROJECT_ROOT / "benchmarks").is_dir():
        print("flb bench: needs a source checkout (benchmarks/ is not installed)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(PROJECT_ROOT))
    sys.argv = [f"bench_{args.name}", *args.args]
    runpy.run_module(f"benchmarks.bench_{args.name}", run_name="__main__")
    return 0


def halt(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    outcome = control.halt(Store(settings.db_path), deployment_now(settings), args.reason)
    event = outcome.events[0]
    print(f"halted at {event.event_ts:%Y-%m-%d %H:%M:%S} UTC: {event.reason}")
    _warn_unaudited(outcome)
    return 0


def resume(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        outcome = control.resume(Store(settings.db_path), deployment_now(settings), args.reset)
    except ValueError as error:
        print(f"flb resume: {error}", file=sys.stderr)
        return 2
    print(f"resumed; reset: {', '.join(e.check for e in outcome.events[1:]) or 'nothing'}")
    _warn_unaudited(outcome)
    return 0


def deployment_now(settings: Settings) -> datetime:
    """The time the deployment's checks use: the simulator's clock when trading against a
    running `flb sim`, otherwise the system clock."""
    if settings.exchange == "sim" and settings.exchange_url:
        return datetime.fromtimestamp(simulator_now(settings.exchange_url), UTC)
    return datetime.now(UTC)


def _warn_unaudited(outcome: control.ControlOutcome) -> None:
    if not outcome.audited:
        print("warning: the database is locked; the change is in force but not yet in "
              "risk_events", file=sys.stderr)  # fmt: skip


def demo(args: argparse.Namespace) -> int:
    from flb_pipeline.demo import run_demo

    return run_demo(
        seed=args.seed, markets=args.markets, cycles=args.cycles, minutes_per_cycle=args.minutes
    )


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))
