"""The embedded default exchange: a simulator on loopback, started on demand.

Dagster runs every job in its own process, so the simulator must outlive any one run: the
first run that needs it starts `flb sim` as a detached process on a fixed port, and later runs
find it answering there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from flb_pipeline.exchange.client import tls_context
from flb_pipeline.exchange.schema import API_PREFIX

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = 8765


def root_url(base_url: str) -> str:
    """`http://host:port/trade-api/v2` -> `http://host:port` (where `/_sim/` lives)."""
    return base_url.split(API_PREFIX, 1)[0].rstrip("/")


def is_simulator(root: str) -> bool:
    try:
        return httpx.get(f"{root}/_sim/clock", timeout=1.0, verify=tls_context()).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_embedded_simulator(
    *, port: int = EMBEDDED_PORT, seed: int = 7, log_dir: Path = Path("data"), wait_s: float = 20
) -> str:
    """Base URL of a simulator on 127.0.0.1:`port`, starting one if none answers."""
    root = f"http://{EMBEDDED_HOST}:{port}"
    if is_simulator(root):
        return root + API_PREFIX
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "simulator.log").open("ab") as log_file:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flb_pipeline.cli",
                "sim",
                "--port",
                str(port),
                "--seed",
                str(seed),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if is_simulator(root):
            return root + API_PREFIX
        time.sleep(0.2)
    raise RuntimeError(
        f"the embedded simulator did not answer on {root} within {wait_s:.0f}s "
        f"(see {log_dir / 'simulator.log'})"
    )


def simulator_now(base_url: str) -> float:
    """The simulator's clock (epoch seconds): tests move it to make time pass."""
    response = httpx.get(f"{root_url(base_url)}/_sim/clock", timeout=5.0, verify=tls_context())
    response.raise_for_status()
    return float(response.json()["now_ts"])


def advance_simulator_clock(base_url: str, seconds: float) -> float:
    """Move a manual-clock simulator forward; returns its new time (epoch seconds)."""
    response = httpx.post(
        f"{root_url(base_url)}/_sim/clock",
        json={"advance_seconds": seconds},
        timeout=30.0,
        verify=tls_context(),
    )
    response.raise_for_status()
    return float(response.json()["now_ts"])
