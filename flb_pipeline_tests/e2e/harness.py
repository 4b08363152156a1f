"""`flb sim` + `dagster dev` (or `flb ui`) as separate processes, driven through Dagster's
GraphQL API the way the UI drives it. Used by the end-to-end tests and the launch-latency
benchmark."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from flb_pipeline_tests.conftest import SimControl

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
RUN_FIELDS = "runId jobName status creationTime startTime endTime tags { key value }"
RUN = f"""
query($runId: ID!) {{ runOrError(runId: $runId) {{ ... on Run {{ {RUN_FIELDS} }} }} }}"""
RUNS = f"""
query($job: String!) {{
  runsOrError(filter: {{pipelineName: $job}}) {{ ... on Runs {{ results {{ {RUN_FIELDS} }} }} }}
}}"""
SCHEDULES = """
query($repository: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repository) {
    ... on Schedules { results { name scheduleState { status } } }
  }
}"""
START_SCHEDULE = """
mutation($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
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


WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }"""
BIN = Path(sys.executable).parent
FLB = str(BIN / "flb")
FOREIGN_SETTINGS = ("FLB_EXCHANGE", "FLB_EXCHANGE_URL", "FLB_EXECUTION")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deployment_env(root: Path, sim_port: int, **overrides: str) -> dict[str, str]:
    """One deployment in `root`: its store, its Dagster instance and its simulator port, with
    no exchange setting inherited from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    env.update(
        DAGSTER_HOME=str(root / "dagster_home"),
        FLB_DB_PATH=str(root / "flb.duckdb"),
        FLB_SIM_PORT=str(sim_port),
        PYTHONUNBUFFERED="1",
        **overrides,
    )
    return env


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (Linux /proc)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


class WebhookReceiver:
    """A loopback HTTP endpoint that keeps every JSON body POSTed to it (an alert webhook)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks/alerts"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class Deployment:
    """`dagster dev` (webserver + daemon) on one temp directory, driven through GraphQL.

    With `sim_args` it first starts its own `flb sim` and points FLB_EXCHANGE_URL at it; with
    `flb_ui` the UI is `flb ui` itself (run in `root`), which finds or starts the embedded
    simulator on `sim_port`, as after `flb demo`. `env` overrides the environment (PATH...).
    """

    def __init__(
        self,
        root: Path,
        *,
        sim_args: list[str] | None = None,
        flb_ui: bool = False,
        sim_port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.sim_port, self.ui_port = sim_port or free_port(), free_port()
        self.db_path = root / "flb.duckdb"
        self.home = root / "dagster_home"
        self.sim_args = sim_args
        self.flb_ui = flb_ui
        self.env_overrides = env or {}
        self._processes: list[subprocess.Popen] = []
        self._simulator: SimControl | None = None
        self.http = httpx.Client(timeout=30)

    @property
    def exchange_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}/trade-api/v2"

    @property
    def sim_root(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def ui_process(self) -> subprocess.Popen:
        return self._processes[-1]

    def __enter__(self) -> Deployment:
        env = deployment_env(self.root, self.sim_port, **self.env_overrides)
        if self.sim_args is not None:
            env["FLB_EXCHANGE_URL"] = self.exchange_url
            simulator = [FLB, "sim", "--port", str(self.sim_port), *self.sim_args]
            self._start(simulator, env, "sim")
        if self.flb_ui:
            self._start([FLB, "ui", "--port", str(self.ui_port)], env, "ui", cwd=self.root)
        else:
            self.home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECT_ROOT / "dagster.yaml", self.home / "dagster.yaml")
            dev = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(self.ui_port)]
            self._start(dev, env, "dagster")
        try:
            self._wait_for_webserver()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[int | None]:
        """SIGTERM to every process group we started (the UI first), as a service manager
        stops them; their exit codes once they have cleaned up (None: killed after 60 s)."""
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        codes: list[int | None] = []
        for process in self._processes:
            try:
                codes.append(process.wait(timeout=60))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                codes.append(None)
        self.http.close()
        if self._simulator is not None:
            self._simulator.http.close()
        return codes

    def processes_left(self) -> list[int]:
        """Process groups we started that still have a member (the run workers of dagster
        dev included): empty after a clean stop."""
        left = []
        for process in self._processes:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                continue
            left.append(process.pid)
        return left

    def simulator(self) -> SimControl:
        """The simulator's `/_sim/` control plane (faults, clock, state)."""
        if self._simulator is None:
            self._simulator = SimControl(self.sim_root)
        return self._simulator

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def stop_ui(self, signum: int) -> int:
        """Send `signum` to the UI process alone; its exit code once it has cleaned up."""
        self.ui_process.send_signal(signum)
        return self.ui_process.wait(timeout=90)

    def wait_for_code_location(self, timeout_s: float = 120) -> dict[str, Any]:
        """The code location's workspace entry once it has loaded (or failed to)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            entries = self.graphql(WORKSPACE)["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["loadStatus"] == "LOADED":
                return entries[0]
            time.sleep(0.5)
        raise TimeoutError(f"the code location did not load; see {self.root}")

    def _start(
        self, command: list[str], env: dict[str, str], name: str, cwd: Path = PROJECT_ROOT
    ) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def _wait_for_webserver(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ui_process.poll() is not None:
                code = self.ui_process.returncode
                raise RuntimeError(f"the UI exited with {code}; see {self.root}")
            try:
                if self.graphql("{ version }").get("version"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not answer; see {self.root}")

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

    def launch(
        self,
        job: str,
        run_config: dict[str, Any] | None = None,
        *,
        partition: str | None = None,
    ) -> str:
        """Launch `job` as the Launchpad does (with `partition`: that partition of it)."""
        params: dict[str, Any] = {
            "selector": {**self._repository, "jobName": job},
            "runConfigData": run_config or {},
        }
        if partition is not None:
            params["executionMetadata"] = {
                "tags": [{"key": "dagster/partition", "value": partition}]
            }
        result = self.graphql(LAUNCH_RUN, params=params)["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(result)
        return result["run"]["runId"]

    @property
    def _repository(self) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

    def wait_for_run(self, run_id: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, runId=run_id)["runOrError"].get("status")
            if status in TERMINAL:
                return status
            time.sleep(0.25)
        raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")

    def runs(self, job: str) -> list[dict[str, Any]]:
        """Runs of `job`, newest first: id, status, creation/start/end times, tags."""
        return self.graphql(RUNS, job=job)["runsOrError"]["results"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.graphql(RUN, runId=run_id)["runOrError"]

    def start_sensor(self, name: str) -> str:
        selector = {**self._repository, "sensorName": name}
        result = self.graphql(START_SENSOR, selector=selector)["startSensor"]
        return result["sensorState"]["status"]

    def schedules(self) -> dict[str, str]:
        """Every schedule of the code location and its state (RUNNING or STOPPED)."""
        results = self.graphql(SCHEDULES, repository=self._repository)["schedulesOrError"]
        return {row["name"]: row["scheduleState"]["status"] for row in results["results"]}

    def start_schedule(self, name: str) -> str:
        selector = {**self._repository, "scheduleName": name}
        result = self.graphql(START_SCHEDULE, selector=selector)["startSchedule"]
        if result["__typename"] != "ScheduleStateResult":
            raise RuntimeError(result)
        return result["scheduleState"]["status"]

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
