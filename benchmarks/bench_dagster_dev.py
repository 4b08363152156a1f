"""Launch -> run success of `trading_job` under `dagster dev` (webserver + daemon), launched
through GraphQL exactly as the UI's "Launch run" does.

    .venv/bin/python -m benchmarks.bench_dagster_dev

Each run is a new process (DefaultRunLauncher), so this includes process start and imports.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import percentiles
from flb_pipeline.store import Store
from flb_pipeline.store.health import kill_switch_states
from flb_pipeline_tests.e2e.harness import Deployment

LAUNCHES = 5
SIM = ["--markets", "5000", "--flb-slope", "1.3", "--history-events", "1500"]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Deployment(Path(folder), sim_args=SIM) as dev:
        for job in ("history_job", "calibration_job"):
            assert dev.wait_for_run(dev.launch(job)) == "SUCCESS", job
        timings, statuses = [], []
        for _ in range(LAUNCHES):
            started = time.perf_counter()
            status = dev.wait_for_run(dev.launch("trading_job"))
            timings.append(time.perf_counter() - started)
            statuses.append(status if status == "SUCCESS" else f"{status} ({_tripped(dev)})")
    print(f"trading_job launch -> finished (s): {percentiles(timings)}")
    print(f"statuses: {statuses}")


def _tripped(dev: Deployment) -> str:
    """The kill switches whose latest verdict failed: why a finished run was blocked."""
    with Store(dev.db_path).connect() as con:
        states = kill_switch_states(con)
    return ", ".join(s["check_name"] for s in states if not s["passed"]) or "no switch"


if __name__ == "__main__":
    main()
