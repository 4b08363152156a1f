"""Fixtures: one simulator on 127.0.0.1 for the session, reset to a known world per test.

The session server uses a manual clock, a fixed seed and start time and a small universe, so
every test sees the same markets and runs in milliseconds; a test that needs another world
passes overrides to `sim.reset(...)`, which always starts from this base config.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient


@pytest.fixture(scope="session")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(BASE_CONFIG) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[SimClient]:
    with SimClient(server) as client:
        client.reset()
        yield client
