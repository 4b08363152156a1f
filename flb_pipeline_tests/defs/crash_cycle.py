"""A one-order trading cycle in a process of its own, so a test can kill it mid-POST.

The job is rebuilt from the environment (FLB_EXCHANGE_URL, FLB_DB_PATH), which is what lets
Dagster re-execute the killed run from another process.
"""

import os
from pathlib import Path

import dagster as dg

from flb_pipeline_tests.conftest import definitions_for


def trading_job() -> dg.JobDefinition:
    defs = definitions_for(
        os.environ["FLB_EXCHANGE_URL"],
        Path(os.environ["FLB_DB_PATH"]),
        exchange={"timeout_s": 60.0},
        trading={"max_orders_per_cycle": 1},
    )
    return defs.resolve_job_def("trading_job")


if __name__ == "__main__":
    dg.execute_job(dg.reconstructable(trading_job), instance=dg.DagsterInstance.get())
