"""Runs whose worker process died: failed, and their pool slots freed.

A trading run killed mid-order (OOM, `kill -9`, a host restart) stays STARTED in Dagster's
storage, and a started run holds the `duckdb` pool (per run in `dagster.yaml`; per step, as a
claimed slot, on an instance configured with op granularity), so every later cycle would
queue behind it and the trading sensor, which waits for the previous cycle, would never
launch another. Dagster's run monitoring cannot see the death of a default-launcher worker,
and marking a run failed does not free op-granularity slots; so each run records its
worker's pid and host, and the trading sensor reaps runs whose worker is gone, and frees the
slots of finished runs, before it decides anything.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

WORKER_PID_TAG = "flb/worker_pid"
WORKER_HOST_TAG = "flb/worker_host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def tag_run_worker(instance: dg.DagsterInstance, run_id: str) -> None:
    """Record which process executes `run_id`, so a later tick can tell if it died."""
    instance.add_run_tags(
        run_id, {WORKER_PID_TAG: str(os.getpid()), WORKER_HOST_TAG: socket.gethostname()}
    )


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every unfinished run whose worker on this host is gone, and free the pool slots
    of every finished run that still holds some. Returns the runs failed."""
    reaped = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if _worker_is_gone(run.tags):
            pid = run.tags[WORKER_PID_TAG]
            instance.report_run_failed(run, f"run worker (pid {pid}) is no longer alive")
            reaped.append(run.run_id)
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
