"""A one-order trading cycle in a process of its own, so a test can kill it mid-POST.

The job is rebuilt from the environment (FLB_EXCHANGE_URL, FLB_DB_PATH), which is what lets
Dagster re-execute the killed run from another process.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from flb_pipeline_tests.conftest import SimControl, definitions_for

HOLD_POSTS = {"latency_path_prefix": "/portfolio/events/orders", "latency_method": "POST"}
"""Slows every order POST (single or batched V2 create), not the cycle's order group."""


def trading_job() -> dg.JobDefinition:
    defs = definitions_for(
        os.environ["FLB_EXCHANGE_URL"],
        Path(os.environ["FLB_DB_PATH"]),
        exchange={"timeout_s": 60.0},
        trading={"max_orders_per_cycle": 1},
    )
    return defs.resolve_job_def("trading_job")


def kill_mid_order(control: SimControl, order_arrived: Callable[[], bool]) -> None:
    """Run this module's cycle in a process of its own (DAGSTER_HOME, FLB_EXCHANGE_URL and
    FLB_DB_PATH come from the environment), hold its POST at the exchange after the order
    has been taken, and SIGKILL the process once `order_arrived` says so."""
    control.faults(latency_ms=30_000, **HOLD_POSTS)
    cycle = subprocess.Popen([sys.executable, "-m", "flb_pipeline_tests.defs.crash_cycle"])
    deadline = time.monotonic() + 90
    while not order_arrived() and time.monotonic() < deadline:
        time.sleep(0.2)
    cycle.send_signal(signal.SIGKILL)
    cycle.wait()
    control.faults(latency_ms=0)


if __name__ == "__main__":
    dg.execute_job(dg.reconstructable(trading_job), instance=dg.DagsterInstance.get())
