"""The operator path from a fresh clone, as real processes: `flb ui` outside an activated venv
(and what it leaves behind when it stops), and `flb demo` followed by the UI as one deployment.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from flb_pipeline.store import Store
from flb_pipeline_tests.e2e.harness import (
    FLB,
    Deployment,
    answers,
    children,
    command_line,
    deployment_env,
    free_port,
)

pytestmark = pytest.mark.e2e
OUTSIDE_THE_VENV = {"PATH": "/usr/bin:/bin"}  # no .venv/bin: `dagster` is not on PATH


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def simulator_pid(root: str) -> int:
    return httpx.get(f"{root}/_sim/state", timeout=10).json()["pid"]


def test_ui_outside_the_venv_serves_then_stops_the_simulator_it_started(tmp_path):
    with Deployment(tmp_path, flb_ui=True, env=OUTSIDE_THE_VENV) as ui:
        location = ui.wait_for_code_location()
        assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation", location
        simulator = simulator_pid(ui.sim_root)
        assert simulator in children(ui.ui_process.pid)
        assert ui.stop_ui(signal.SIGTERM) == 0
    assert not answers(ui.sim_root) and not process_exists(simulator)
    assert not answers(ui.ui_url)
    assert "stops with the UI" in ui.log("ui")


def test_ui_whose_dagster_dev_dies_fails_and_stops_the_simulator(tmp_path):
    with Deployment(tmp_path, flb_ui=True, env=OUTSIDE_THE_VENV) as ui:
        simulator = simulator_pid(ui.sim_root)
        (dagster,) = [
            pid for pid in children(ui.ui_process.pid) if "dagster dev" in command_line(pid)
        ]
        os.kill(dagster, signal.SIGKILL)
        assert ui.ui_process.wait(timeout=90) == 1
    assert not answers(ui.sim_root) and not process_exists(simulator)
    assert "flb ui: dagster dev stopped by itself (exit code -9)" in ui.log("ui")


def demo_runs(ui: Deployment, job: str) -> list[dict]:
    """The runs of `job` the demo made: not those the UI's daemon launches on a schedule."""
    return [
        run for run in ui.runs(job)
        if not any(tag["key"] == "dagster/schedule_name" for tag in run["tags"])
    ]  # fmt: skip


def run_flb(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FLB, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_then_ui_is_one_deployment(tmp_path):
    """After `flb demo`, a trading cycle launched from the UI continues the demo's session:
    same store (the model is there), same instance (the demo's runs are listed), same
    exchange (its positions reconcile without a correction); status and report read it."""
    env = deployment_env(tmp_path, free_port())
    demo = run_flb(tmp_path, env, "demo", "--cycles", "2")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    simulator_root = f"http://127.0.0.1:{env['FLB_SIM_PORT']}"
    simulator = simulator_pid(simulator_root)
    try:
        assert f"kill {simulator}" in demo.stdout
        clock = httpx.get(f"{simulator_root}/_sim/clock", timeout=10).json()
        assert clock["mode"] == "realtime"  # the session runs on from where the demo left it
        with Deployment(tmp_path, flb_ui=True, sim_port=int(env["FLB_SIM_PORT"])) as ui:
            for job in ("history_job", "calibration_job", "reconcile_job", "daily_summary_job"):
                assert [run["status"] for run in demo_runs(ui, job)] == ["SUCCESS"], job
            assert len(demo_runs(ui, "trading_job")) == 2
            assert ui.wait_for_run(ui.launch("trading_job")) == "SUCCESS"
        assert "already running" in ui.log("ui") and answers(simulator_root)
        with Store(tmp_path / "flb.duckdb").connect() as con:
            scans = con.execute("SELECT count(*) FROM scans WHERE status = 'complete'").fetchone()
            corrections = con.execute(
                "SELECT count(*) FROM reconciliation_log WHERE kind = 'position'"
            ).fetchone()
        assert scans == (3,) and corrections == (0,)
        status = run_flb(tmp_path, env, "status")
        assert f"store: {tmp_path / 'flb.duckdb'}" in status.stdout
        assert re.search(r"^scans\s+3\s*$", status.stdout, re.MULTILINE), status.stdout
        day = re.search(r"Daily summary (\d{4}-\d{2}-\d{2})", demo.stdout).group(1)
        report = run_flb(tmp_path, env, "report", "--day", day)
        assert report.returncode == 0 and "trades closed" in report.stdout
    finally:
        os.kill(simulator, signal.SIGTERM)


def test_demo_honours_paper_execution_and_sends_no_order(tmp_path):
    env = deployment_env(tmp_path, free_port(), FLB_EXECUTION="paper")
    demo = run_flb(tmp_path, env, "demo", "--cycles", "1")
    simulator_root = f"http://127.0.0.1:{env['FLB_SIM_PORT']}"
    try:
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "(paper execution)" in demo.stdout
        assert "Daily summary" in demo.stdout and "paper execution, New York day" in demo.stdout
        assert httpx.get(f"{simulator_root}/_sim/state", timeout=10).json()["orders"] == 0
        with Store(tmp_path / "flb.duckdb").connect() as con:
            executions = con.execute("SELECT DISTINCT execution FROM orders").fetchall()
        assert executions == [("paper",)]
    finally:
        os.kill(simulator_pid(simulator_root), signal.SIGTERM)
