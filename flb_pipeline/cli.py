"""`flb`: the demo, the simulator, the UI and operator commands.

A command that cannot do its job because of the environment (a locked or unusable store, a
setting it cannot honour, a simulator that does not come up) says so in one line on stderr
and exits non-zero; a traceback is reserved for bugs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from flb_pipeline import backtest_command, operations
from flb_pipeline.exchange.embedded import SimulatorUnavailable
from flb_pipeline.exchange.simulator.config import ConfigError
from flb_pipeline.settings import SettingsError
from flb_pipeline.store import StoreUnavailable

Command = Callable[[argparse.Namespace], int]
REFUSED = 2  # a setting or argument we cannot honour
UNAVAILABLE = 1  # the store or the simulator cannot be used right now
BENCHMARKS = (
    "scan", "store", "model", "cycle", "ledger", "summary", "dagster_dev", "retention", "backtest",
)  # fmt: skip


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _sim_arguments(parser: argparse.ArgumentParser) -> None:
    world = parser.add_argument_group("simulated world")
    world.add_argument("--seed", type=int, default=7)
    world.add_argument("--markets", type=int, default=400, help="open markets to keep listed")
    world.add_argument("--lifetime", type=float, default=1200.0, help="market lifetime, seconds")
    world.add_argument("--history-days", type=float, default=2.0)
    world.add_argument("--history-events", type=int, default=600)
    world.add_argument("--flb-slope", type=float, default=1.09, help="b in logit(p_true)")
    world.add_argument("--clock", choices=["realtime", "manual"], default="realtime")
    world.add_argument(
        "--start", default=None, metavar="ISO-8601",
        help="the simulated clock's start (default: now); one seed and start, one world",
    )  # fmt: skip
    api = parser.add_argument_group("API")
    api.add_argument(
        "--legacy", action="store_true",
        help="also serve the integer-cent fields and legacy order endpoints Kalshi removed",
    )  # fmt: skip
    api.add_argument(
        "--rate-tier", choices=["basic", "advanced", "premier", "prime", "unlimited"],
        default="basic", help="the API access tier whose rate limits are enforced",
    )  # fmt: skip
    faults = parser.add_argument_group("fault injection (also live under /_sim/faults)")
    faults.add_argument("--error-rate", type=float, default=0.0)
    faults.add_argument("--burst-429", type=int, default=0)
    faults.add_argument("--latency-ms", type=float, default=0.0)
    faults.add_argument("--malformed-rate", type=float, default=0.0)
    faults.add_argument("--frozen-books", action="store_true")
    faults.add_argument("--reject-orders", default=None, metavar="CODE")
    faults.add_argument("--partial-fill-ratio", type=float, default=None)
    faults.add_argument("--crossed-book-rate", type=float, default=0.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="a trading session against the simulator")
    demo.add_argument("--markets", type=int, default=300)
    demo.add_argument(
        "--cycles", type=_positive_int, default=15, help="trading cycles in the session"
    )
    demo.add_argument("--minutes", type=float, default=4.0, help="simulated minutes per cycle")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(run=operations.demo)

    soak = commands.add_parser(
        "soak", help="trading cycles under faults for N minutes, then integrity figures"
    )
    soak.add_argument("--minutes", type=float, default=30.0, help="wall-clock minutes of cycles")
    soak.add_argument("--seed", type=int, default=7)
    soak.add_argument("--markets", type=int, default=300)
    soak.add_argument(
        "--dir", type=Path, default=None,
        help="where the soak's store, instance and simulator log go (default data/soak/<time>)",
    )  # fmt: skip
    soak.set_defaults(run=operations.soak)

    sim = commands.add_parser("sim", help="serve the Kalshi-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    _sim_arguments(sim)
    sim.set_defaults(run=operations.sim)

    ui = commands.add_parser("ui", help="simulator + `dagster dev` (webserver and daemon)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--sim-port", type=int, default=None, help="simulator port (default FLB_SIM_PORT or 8765)"
    )
    ui.set_defaults(run=operations.ui)

    status = commands.add_parser("status", help="what the store holds and what blocks trading")
    status.set_defaults(run=operations.status)

    backtest_command.add_parser(commands)

    bench = commands.add_parser("bench", help="run a benchmark from benchmarks/ (a checkout)")
    bench.add_argument("name", choices=BENCHMARKS)
    bench.add_argument("args", nargs="*", help="passed to the benchmark")
    bench.set_defaults(run=operations.bench)

    report = commands.add_parser("report", help="print one day's summary in the terminal")
    report.add_argument("--day", required=True, help="New York trading day, YYYY-MM-DD")
    report.set_defaults(run=operations.report)

    halt = commands.add_parser("halt", help="stop all new entries until `flb resume`")
    halt.add_argument("--reason", default="manual halt from the command line")
    halt.set_defaults(run=operations.halt)

    resume = commands.add_parser("resume", help="lift the manual halt")
    resume.add_argument(
        "--reset", nargs="*", default=[], metavar="SWITCH",
        help="also reset sticky switches: slippage, no_fills, daily_loss",
    )  # fmt: skip
    resume.set_defaults(run=operations.resume)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except (SettingsError, ConfigError) as refused:
        return _fail(args.command, refused, REFUSED)
    except (StoreUnavailable, SimulatorUnavailable, operations.PortInUse) as unavailable:
        return _fail(args.command, unavailable, UNAVAILABLE)
    except BrokenPipeError:  # `flb status | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _fail(command: str, error: Exception, code: int) -> int:
    print(f"flb {command}: {' '.join(str(error).split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
