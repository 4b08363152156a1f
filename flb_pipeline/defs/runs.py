"""Runs whose worker process died: failed, and their pool slots freed.

A run killed mid-step (OOM, `kill -9`, a host restart) stays STARTED in Dagster's storage and
holds the `duckdb` pool (per run in `dagster.yaml`; per step, as a claimed slot, on an instance
configured with op granularity), so every later run that writes the store would queue behind
it, and the trading sensor, which waits for the previous cycle, would never launch another.
Dagster's run monitoring (dagster.yaml) fails runs that outlive their
`dagster/max_runtime_seconds` tag, but it cannot see the death of a default-launcher worker,
and marking a run failed does not free op-granularity slots. So each run records its
worker's pid and host when its resources start, and `dead_run_reaper_sensor` (always on),
like the trading sensor before it decides, fails the runs whose worker is gone and frees
their slots.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

MAX_RUNTIME_TAG = "dagster/max_runtime_seconds"
WORKER_PID_TAG = "flb/worker_pid"
WORKER_HOST_TAG = "flb/worker_host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def max_runtime(seconds: int) -> dict[str, str]:
    """The job tag with which run monitoring fails a run still going after `seconds`: such a
    run is hung, and it must not hold the DuckDB pool slot for ever."""
    return {MAX_RUNTIME_TAG: str(seconds)}


def tag_run_worker(instance: dg.DagsterInstance, run_id: str) -> None:
    """Record which process executes `run_id`, so a later tick can tell if it died."""
    instance.add_run_tags(
        run_id, {WORKER_PID_TAG: str(os.getpid()), WORKER_HOST_TAG: socket.gethostname()}
    )


@dataclass(frozen=True)
class ReapedRun:
    """A run failed because its worker died; `reason` is the line its failure carries."""

    run_id: str
    job_name: str
    reason: str


def reap_dead_runs(instance: dg.DagsterInstance) -> list[ReapedRun]:
    """Fail every unfinished run whose worker on this host is gone, and free the pool slots
    of every finished run that still holds some. Returns the runs failed."""
    reaped = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if _worker_is_gone(run.tags):
            reason = (
                f"lost its worker (pid {run.tags[WORKER_PID_TAG]} is no longer alive): "
                "failed, and its pool slots freed"
            )
            instance.report_run_failed(run, reason)
            reaped.append(ReapedRun(run.run_id, run.job_name, reason))
    _free_slots_of_finished_runs(instance)
    return reaped


def _free_slots_of_finished_runs(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    holders = list(storage.get_concurrency_run_ids())
    if not holders:
        return
    for record in instance.get_run_records(dg.RunsFilter(run_ids=holders)):
        if record.dagster_run.is_finished:
            storage.free_concurrency_slots_for_run(record.dagster_run.run_id)


def _worker_is_gone(tags: dict[str, str]) -> bool:
    """Only a worker recorded on this host can be judged; anything else is left alone."""
    if tags.get(WORKER_HOST_TAG) != socket.gethostname() or WORKER_PID_TAG not in tags:
        return False
    return not process_alive(int(tags[WORKER_PID_TAG]))


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
