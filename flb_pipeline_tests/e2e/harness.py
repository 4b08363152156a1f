"""`flb sim` + `dagster dev` as separate processes, driven through Dagster's GraphQL API the
way the UI drives it. Used by the end-to-end tests and the launch-latency benchmark."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "flb_pipeline"
REPOSITORY = "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN_STATUS = """
query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }"""
RUNS = """
query($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""
START_SENSOR = """
mutation($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message }
  }
}"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  }
}"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """A simulator and a `dagster dev` (webserver + daemon) sharing one temp directory."""

    def __init__(self, root: Path, *, sim_args: list[str]) -> None:
        self.root = root
        self.sim_port, self.ui_port = free_port(), free_port()
        self.db_path = root / "flb.duckdb"
        self.home = root / "dagster_home"
        self.sim_args = sim_args
        self._processes: list[subprocess.Popen] = []
        self.http = httpx.Client(timeout=30)

    @property
    def exchange_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}/trade-api/v2"

    def __enter__(self) -> Deployment:
        self.home.mkdir(parents=True)
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", self.home / "dagster.yaml")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "FLB_DB_PATH": str(self.db_path),
            "FLB_EXCHANGE_URL": self.exchange_url,
            "PYTHONUNBUFFERED": "1",
        }
        bin_dir = Path(sys.executable).parent
        simulator = [str(bin_dir / "flb"), "sim", "--port", str(self.sim_port), *self.sim_args]
        self._start(simulator, env, "sim")
        self._start(
            [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(self.ui_port)],
            env,
            "dagster",
        )
        self._wait_for_webserver()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.http.close()

    def _start(self, command: list[str], env: dict[str, str], name: str) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def _wait_for_webserver(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.graphql("{ version }").get("version"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not answer; see {self.root / 'dagster.log'}")

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.http.post(
            f"http://127.0.0.1:{self.ui_port}/graphql",
            json={"query": query, "variables": variables},
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def launch(self, job: str, run_config: dict[str, Any] | None = None) -> str:
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": job,
            },
            "runConfigData": run_config or {},
        }
        result = self.graphql(LAUNCH_RUN, params=params)["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(result)
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, runId=run_id)["runOrError"].get("status")
            if status in TERMINAL:
                return status
            time.sleep(0.25)
        raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")

    def runs(self, job: str) -> list[dict[str, Any]]:
        return self.graphql(RUNS, job=job)["runsOrError"]["results"]

    def start_sensor(self, name: str) -> str:
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "sensorName": name,
        }
        result = self.graphql(START_SENSOR, selector=selector)["startSensor"]
        return result["sensorState"]["status"]

    def backfill(self, asset: str, partitions: list[str]) -> str:
        params = {"assetSelection": [{"path": [asset]}], "partitionNames": partitions}
        result = self.graphql(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(result)
        return result["backfillId"]

    def wait_for_backfill(self, backfill_id: str, timeout_s: float = 240) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.graphql(BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"][
                "status"
            ]
            if status in BACKFILL_DONE:
                return status
            time.sleep(1)
        raise TimeoutError(f"backfill {backfill_id} did not finish in {timeout_s}s")
