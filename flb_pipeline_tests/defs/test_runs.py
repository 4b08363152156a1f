"""How runs end when they hang or their worker dies: every job's max runtime and the
instance's run monitoring (the reaping of dead runs is tested through its sensor)."""

import shutil
from pathlib import Path

import dagster as dg

from flb_pipeline.definitions import defs

MAX_RUNTIME_TAG = "dagster/max_runtime_seconds"  # Dagster's own tag, read by run monitoring

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_every_job_has_a_max_runtime_after_which_run_monitoring_fails_it():
    runtimes = {job.name: int(job.tags.get(MAX_RUNTIME_TAG, 0)) for job in defs.jobs}
    assert all(0 < seconds <= 3 * 3600 for seconds in runtimes.values())
    assert runtimes["trading_job"] == runtimes["reconcile_job"] == 600


def test_the_projects_instance_monitors_runs_and_frees_the_slots_of_finished_ones(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 3 * 3600  # runs without a tag
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 10
