"""Fixtures: one simulator on 127.0.0.1 for the session, reset to a known world per test.

The session server uses a manual clock, a fixed seed and start time and a small universe, so
every test sees the same markets and runs in milliseconds; a test that needs another world
passes overrides to `sim.reset(...)`, which always starts from this base config.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import SimClient

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BASE_CONFIG = SimConfig(
    seed=11,
    markets_target=80,
    history_events=120,
    clock_mode="manual",
    start_time=START,
)


@pytest.fixture(scope="session")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(BASE_CONFIG) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[SimClient]:
    with SimClient(server) as client:
        client.reset()
        yield client
