"""`flb demo`: the whole path against a fresh simulator, through Dagster, in about a minute.

A simulator starts on a free loopback port; history is backfilled and several snapshots are
taken by running the project's own Dagster jobs in-process against a persistent instance
(DAGSTER_HOME, default data/dagster_home), so every run also shows up in `flb ui`.
"""

from __future__ import annotations

import shutil

import dagster as dg

from flb_pipeline.definitions import build_definitions
from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline.operations import DEMO_DB, dagster_home, print_table
from flb_pipeline.settings import Settings
from flb_pipeline.store import Store
from flb_pipeline.store.snapshots import table_counts

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(*, seed: int, markets: int, snapshots: int) -> int:
    home = dagster_home()
    shutil.rmtree(DEMO_DB.parent, ignore_errors=True)
    config = SimConfig(seed=seed, markets_target=markets)
    with SimulatorServer(config) as simulator:
        print(f"simulator: {simulator.url} (seed {seed}, ~{markets} open markets)")
        print(f"store:     {DEMO_DB}\nDagster:   {home}\n")
        defs = build_definitions(
            Settings(db_path=str(DEMO_DB), exchange="sim", exchange_url=simulator.url)
        )
        instance = dg.DagsterInstance.get()
        history = _run(defs, "history_job", instance)
        print(f"history_job: {_metadata(history, 'settled_history')}")
        for number in range(1, snapshots + 1):
            result = _run(defs, "snapshot_job", instance)
            print(f"snapshot {number}: {_metadata(result, 'market_snapshots')}")
    with Store(DEMO_DB).connect() as con:
        counts = table_counts(con)
    print()
    print_table(["table", "rows"], [[name, str(rows)] for name, rows in counts.items()])
    return 0


def _run(
    defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    if not result.success:
        raise SystemExit(f"{job_name} failed: see run {result.run_id} in `flb ui`")
    return result


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> str:
    materialization = result.asset_materializations_for_node(asset)[-1]
    shown = {
        key: getattr(value, "value", value)
        for key, value in materialization.metadata.items()
        if key != "path"
    }
    return ", ".join(f"{key}={value}" for key, value in shown.items())
