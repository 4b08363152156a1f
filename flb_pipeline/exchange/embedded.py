"""The embedded default exchange: a simulator on loopback, started on demand.

Dagster runs every job in its own process, so the simulator must outlive any one run: the
first run that needs it starts `flb sim` as a detached process on a fixed port (FLB_SIM_PORT,
default 8765), and later runs find it answering there. `flb demo` and `flb ui` use the same
port, so the demo's session, the UI and every run share one exchange.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from flb_pipeline.exchange.client import tls_context
from flb_pipeline.exchange.schema import API_PREFIX
from flb_pipeline.settings import DEFAULT_SIM_PORT

if TYPE_CHECKING:  # the simulator's server stack stays out of every run's imports
    from flb_pipeline.exchange.simulator import SimConfig

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = DEFAULT_SIM_PORT
STOP_WAIT_S = 10.0


class SimulatorUnavailable(RuntimeError):
    """The embedded simulator could not be started or reached; the message is one line."""


@dataclass(frozen=True)
class EmbeddedSimulator:
    """A simulator answering on loopback; `process` is set only when we started it, so
    only its starter stops it."""

    url: str
    process: subprocess.Popen[bytes] | None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def pid(self) -> int | None:
        """The simulator's process id as the process answering on the port reports it (None
        from a simulator too old to say)."""
        pid = _control(self.url, "GET", "/state").get("pid")
        return int(pid) if pid is not None else None

    def stop(self) -> None:
        """Stop the simulator if we started it (SIGTERM: it shuts down cleanly); a simulator
        found running belongs to whoever started it and is left alone."""
        if self.process is not None:
            _terminate(self.process)


def root_url(base_url: str) -> str:
    """`http://host:port/trade-api/v2` -> `http://host:port` (where `/_sim/` lives)."""
    return base_url.split(API_PREFIX, 1)[0].rstrip("/")


def embedded_url(port: int) -> str:
    return f"http://{EMBEDDED_HOST}:{port}{API_PREFIX}"


def is_simulator(root: str) -> bool:
    try:
        return httpx.get(f"{root}/_sim/clock", timeout=1.0, verify=tls_context()).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_embedded_simulator(
    *, port: int = EMBEDDED_PORT, seed: int = 7, log_dir: Path = Path("data"), wait_s: float = 20
) -> str:
    """Base URL of a simulator on 127.0.0.1:`port`, starting one if none answers."""
    return find_or_start_simulator(port=port, seed=seed, log_dir=log_dir, wait_s=wait_s).url


def find_or_start_simulator(
    *, port: int = EMBEDDED_PORT, seed: int = 7, log_dir: Path = Path("data"), wait_s: float = 20
) -> EmbeddedSimulator:
    """The simulator on 127.0.0.1:`port`: the one answering there, else a new detached
    `flb sim` (its output in `log_dir`/simulator.log). One that does not come up in `wait_s`
    is stopped again, never left behind."""
    url = embedded_url(port)
    if is_simulator(root_url(url)):
        return EmbeddedSimulator(url, None)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "simulator.log"
    command = [sys.executable, "-m", "flb_pipeline.cli", "sim", "--port", str(port)]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [*command, "--seed", str(seed)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if is_simulator(root_url(url)):
                return EmbeddedSimulator(url, process)
            time.sleep(0.2)
    except BaseException:  # interrupted while waiting: the process is ours to stop
        _terminate(process)
        raise
    _terminate(process)
    raise SimulatorUnavailable(
        f"the embedded simulator did not answer on {root_url(url)} within {wait_s:g}s "
        f"(is the port taken by something else? see {log_path})"
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def simulator_now(base_url: str) -> float:
    """The simulator's clock (epoch seconds): tests move it to make time pass."""
    return float(_control(base_url, "GET", "/clock")["now_ts"])


def advance_simulator_clock(base_url: str, seconds: float) -> float:
    """Move a manual-clock simulator forward; returns its new time (epoch seconds)."""
    return float(_control(base_url, "POST", "/clock", {"advance_seconds": seconds})["now_ts"])


def set_simulator_clock_mode(base_url: str, mode: str) -> float:
    """Switch the clock between `manual` and `realtime`; simulated time carries on from where
    it is (a realtime clock then runs on from the time a manual session reached)."""
    return float(_control(base_url, "POST", "/clock", {"mode": mode})["now_ts"])


def reset_simulator(base_url: str, config: SimConfig) -> float:
    """Replace the simulator's world with `config`'s, every field given, so whatever the
    running simulator was started with (faults included) does not leak into the new world."""
    body = dataclasses.asdict(config)
    body["start_time"] = config.start_time.isoformat() if config.start_time else None
    return float(_control(base_url, "POST", "/reset", body)["now_ts"])


def _control(
    base_url: str, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = httpx.request(
        method,
        f"{root_url(base_url)}/_sim{path}",
        json=body,
        timeout=30.0,
        verify=tls_context(),
    )
    response.raise_for_status()
    return response.json()
