"""Serving the simulator over HTTP on loopback: embedded (tests, demo) or blocking (`flb sim`).

`SimulatorServer` binds the socket itself before starting uvicorn, so `port=0` yields a free
port that is known (and already accepting connections) when `start()` returns.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from flb_pipeline.exchange.schema import API_PREFIX
from flb_pipeline.exchange.simulator.app import build_app
from flb_pipeline.exchange.simulator.config import SimConfig

_STARTUP_TIMEOUT_S = 30.0
_SHUTDOWN_TIMEOUT_S = 10.0
_GRACEFUL_SHUTDOWN_S = 1
"""A request still held by an injected latency is cut off rather than waited for."""


def _uvicorn_config(config: SimConfig, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(config),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )


class SimulatorServer:
    """A simulator served from a daemon thread; use as a context manager or start()/stop()."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or SimConfig()
        self.host = host
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the simulator is not running")
        return self._socket.getsockname()[1]

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL of the Kalshi-compatible API, as a client would configure it."""
        return self.root_url + API_PREFIX

    def start(self) -> SimulatorServer:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self._server = uvicorn.Server(_uvicorn_config(self.config, self.host, self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="flb-simulator", daemon=True
        )
        self._thread.start()
        self._wait_until_started()
        return self

    def _wait_until_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator failed to start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_SHUTDOWN_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(config: SimConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until interrupted (the `flb sim` command)."""
    uvicorn.Server(_uvicorn_config(config, host, port)).run()
