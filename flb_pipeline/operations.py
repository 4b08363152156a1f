"""What the `flb` commands do. Everything that trades goes through Dagster jobs."""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType

from flb_pipeline.core.calendar import TRADING_TIMEZONE, trading_day_window
from flb_pipeline.core.modes import default_execution
from flb_pipeline.core.risk import RiskLimits, Verdict
from flb_pipeline.defs import control
from flb_pipeline.defs.checks import verdicts_now
from flb_pipeline.defs.daily_summary import build_daily_summary
from flb_pipeline.defs.resources import exchange_resource
from flb_pipeline.exchange.embedded import (
    EmbeddedSimulator,
    embedded_url,
    find_or_start_simulator,
    is_simulator,
    root_url,
    simulator_now,
)
from flb_pipeline.exchange.simulator import FaultConfig, SimConfig, serve_forever
from flb_pipeline.reports.daily import BUCKET_HEADER, bucket_rows, summary_rows
from flb_pipeline.settings import DEFAULT_DAGSTER_HOME, Settings, creates_data_directory
from flb_pipeline.store import Store
from flb_pipeline.store.snapshots import table_counts

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGSTER_STOP_WAIT_S = 60.0
UI_HOST = "127.0.0.1"


class PortInUse(RuntimeError):
    """The port the UI should serve on is taken; the message is one line."""


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
    config = SimConfig(
        seed=args.seed,
        markets_target=args.markets,
        market_lifetime_s=args.lifetime,
        history_days=args.history_days,
        history_events=args.history_events,
        flb_slope=args.flb_slope,
        clock_mode=args.clock,
        faults=faults,
        legacy=args.legacy,
        rate_tier=args.rate_tier,
    )
    return config if args.start is None else config.merged({"start_time": args.start})


def sim(args: argparse.Namespace) -> int:
    config = sim_config_from(args)
    print(f"simulator on http://{args.host}:{args.port}/trade-api/v2 (seed {config.seed})")
    serve_forever(config, args.host, args.port)
    return 0


def cli_store(settings: Settings) -> Store:
    """The deployment's store as a terminal command uses it: a short lock wait
    (FLB_CLI_LOCK_WAIT_S, default 5 s) instead of a run's 30 s, so an operator hears at once
    that another process holds the file."""
    return Store(
        settings.db_path,
        lock_timeout_s=settings.cli_lock_wait_s,
        create_directory=creates_data_directory(settings.db_path),
    )


def ui(args: argparse.Namespace) -> int:
    """`dagster dev` (webserver + daemon) on the deployment, with the embedded simulator when
    trading on `sim`. A simulator started here is stopped when the UI stops, however it
    stops; one found running (e.g. `flb demo`'s session) is left as it was."""
    settings = Settings.from_env()
    cli_store(settings).ensure_directory()
    require_free_port(args.port)
    home = dagster_home()
    sim_port = args.sim_port or settings.sim_port
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FLB_DB_PATH": str(Path(settings.db_path).resolve()),
        "FLB_SIM_PORT": str(sim_port),
    }
    with _interruptible():
        simulator = _ui_simulator(settings, sim_port)
        try:
            if simulator is not None:
                _print_simulator(simulator)
            print(f"Dagster UI http://{UI_HOST}:{args.port}", flush=True)
            return _run_dagster_dev(args.port, env)
        finally:
            if simulator is not None:
                simulator.stop()


def require_free_port(port: int) -> None:
    """Fail before starting anything if the UI's port is taken: dagster-webserver logs a bind
    error there but keeps running, so `dagster dev` would sit there without a UI."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((UI_HOST, port))
        except OSError as error:
            raise PortInUse(
                f"port {port} on {UI_HOST} is already in use ({error.strerror}); "
                "choose another with --port"
            ) from error


def _ui_simulator(settings: Settings, port: int) -> EmbeddedSimulator | None:
    if settings.exchange != "sim" or settings.exchange_url:
        where = settings.exchange_url or f"Kalshi {settings.exchange}"
        print(f"exchange   {where} (no simulator started)")
        return None
    return find_or_start_simulator(port=port)


def _print_simulator(simulator: EmbeddedSimulator) -> None:
    pid = simulator.pid()
    process = f"pid {pid}; " if pid is not None else ""
    if simulator.started_here:
        print(f"simulator  {simulator.url} (started, {process}stops with the UI)")
    else:
        print(f"simulator  {simulator.url} (already running, {process}left running)")


def _run_dagster_dev(port: int, env: dict[str, str]) -> int:
    """Run `dagster dev` from this interpreter's environment (no activated venv needed) in
    its own session, so a Ctrl-C reaches it once, through us. Returns when it exits; the UI
    is meant to run until interrupted, so exiting by itself is a failure."""
    command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, start_new_session=True)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        _stop_dagster(process)
        return 0
    _signal_session(process, signal.SIGTERM)  # a webserver or daemon it left behind
    print(f"flb ui: dagster dev stopped by itself (exit code {code})", file=sys.stderr)
    return code if code > 0 else 1


def _stop_dagster(process: subprocess.Popen[bytes]) -> None:
    """dagster dev shuts its webserver and daemon down on SIGTERM; whatever of its session is
    left after the wait is killed."""
    process.terminate()
    try:
        process.wait(DAGSTER_STOP_WAIT_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _signal_session(process, signal.SIGKILL)
        process.wait()


def _signal_session(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """Signal every process of `process`'s session (it leads its own process group)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM (Ctrl-C, a service manager, `kill`) both stop the UI through the
    same clean-up instead of killing us with our children left running. SIGINT gets a
    handler even if we were started with it ignored (`nohup`, `&` in a script), so that
    `dagster dev`, which inherits an ignored SIGINT and maps SIGTERM to it, can be stopped."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def status(args: argparse.Namespace) -> int:
    """Rows per table, the manual halt, and every kill switch as it judges a cycle now (with
    the deployment's limits, on the latest cycle's capital and today's holdings)."""
    settings = Settings.from_env()
    store = cli_store(settings)
    now = deployment_now(settings)
    limits = deployment_limits()
    with store.connect() as con:
        counts = table_counts(con)
        verdicts = verdicts_now(con, now, limits)
    halted = control.halt_state(store)
    print(f"store: {store.path}")
    print_table(["table", "rows"], [[name, str(rows)] for name, rows in counts.items()])
    state = f"ON since {halted.event_ts:%Y-%m-%d %H:%M:%S} ({halted.reason})" if halted else "off"
    print(f"\nmanual halt: {state}")
    rows = [
        [v.check, "pass" if v.passed else "FAIL", _limit(v), _paused(v), v.reason] for v in verdicts
    ]
    print(f"\nkill switches evaluated now ({now:%Y-%m-%d %H:%M:%S} UTC):")
    print_table(
        ["kill switch", "now", "limit", "paused until", "reason"],
        rows or [["-", "-", "-", "-", "no trading cycle yet"]],
    )
    return 0


def deployment_limits() -> RiskLimits:
    """The limits the deployment's runs judge with: the `risk` resource of the code
    location's Definitions, where a deployment sets its RiskResource. Imported here, once
    the settings are known to be valid, since building the Definitions reads them."""
    from flb_pipeline import definitions

    return definitions.defs.resources["risk"].limits()


def _limit(verdict: Verdict) -> str:
    return "-" if verdict.threshold is None else f"{verdict.threshold:g}"


def _paused(verdict: Verdict) -> str:
    return f"{verdict.paused_until:%Y-%m-%d %H:%M} UTC" if verdict.paused_until else "-"


def report(args: argparse.Namespace) -> int:
    """The daily summary of `--day`, computed from the store as the asset computes it."""
    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        print(f"flb report: --day must be YYYY-MM-DD, not {args.day!r}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    execution = default_execution(settings.exchange, settings.execution)
    print_daily_summary(cli_store(settings), day, execution)
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
    """In force at once through the halt flag, even while another process holds the
    database (the audit row then waits, and we warn). A halt beside a store that cannot
    exist would halt nothing, so a missing directory is refused first."""
    settings = Settings.from_env()
    store = cli_store(settings)
    store.ensure_directory()
    outcome = control.halt(store, deployment_now(settings), args.reason)
    event = outcome.events[0]
    print(f"halted at {event.event_ts:%Y-%m-%d %H:%M:%S} UTC: {event.reason}")
    if not outcome.audited:
        print("warning: the database is locked; the halt is in force but not yet in "
              "risk_events", file=sys.stderr)  # fmt: skip
    print(_cancel_resting_orders(settings))
    return 0


def _cancel_resting_orders(settings: Settings) -> str:
    """A halt also cancels every resting order; an embedded simulator that is not running
    holds none, and is not started just for this."""
    embedded = settings.exchange == "sim" and not settings.exchange_url
    if embedded and not is_simulator(root_url(embedded_url(settings.sim_port))):
        return "no simulator is running: no resting orders to cancel"
    return control.cancel_resting_orders(exchange_resource(settings), lambda: datetime.now(UTC))


def resume(args: argparse.Namespace) -> int:
    """Lifting a halt lets trading start again, so unlike a halt it is done only with its
    audit row (and the resets, which live in risk_events): the store is held open for it,
    and a locked store refuses the resume with nothing changed."""
    settings = Settings.from_env()
    store = cli_store(settings)
    try:
        with store.held_open():
            outcome = control.resume(store, deployment_now(settings), args.reset)
    except ValueError as error:
        print(f"flb resume: {error}", file=sys.stderr)
        return 2
    print(f"resumed; reset: {', '.join(e.check for e in outcome.events[1:]) or 'nothing'}")
    return 0


def deployment_now(settings: Settings) -> datetime:
    """The time the deployment's checks use: on `sim`, the simulator's clock (FLB_EXCHANGE_URL's,
    else the embedded one on FLB_SIM_PORT, e.g. a demo session running ahead of the wall
    clock); otherwise, or when no simulator answers, the system clock."""
    if settings.exchange == "sim":
        url = settings.exchange_url or embedded_url(settings.sim_port)
        if is_simulator(root_url(url)):
            return datetime.fromtimestamp(simulator_now(url), UTC)
        if settings.exchange_url:
            print(f"warning: no simulator answers at {url}; using the system clock",
                  file=sys.stderr)  # fmt: skip
    return datetime.now(UTC)


def demo(args: argparse.Namespace) -> int:
    from flb_pipeline.demo import run_demo

    return run_demo(
        seed=args.seed, markets=args.markets, cycles=args.cycles, minutes_per_cycle=args.minutes
    )


def soak(args: argparse.Namespace) -> int:
    from flb_pipeline.soak import default_directory, run_soak

    if args.minutes <= 0:
        print(f"flb soak: --minutes must be > 0, not {args.minutes:g}", file=sys.stderr)
        return 2
    directory = args.dir or default_directory()
    return run_soak(minutes=args.minutes, seed=args.seed, markets=args.markets, directory=directory)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))
