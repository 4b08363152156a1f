"""Shared fixtures: a real simulator on 127.0.0.1 and Definitions wired to a real DuckDB file."""

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from flb_pipeline.definitions import build_definitions
from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.defs.resources import (
    ExchangeResource,
    ReportsResource,
    RiskResource,
    StoreResource,
    TradingResource,
)
from flb_pipeline.demo import QUIET
from flb_pipeline.exchange.simulator import SimConfig, SimulatorServer
from flb_pipeline.settings import Settings
from flb_pipeline.store import Store

SIM_START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def small_world(**overrides: Any) -> SimConfig:
    """A deterministic, quick world: manual clock, fixed start, a few hundred markets, and the
    Premier API tier (100 requests a second) so raw test requests rarely meet the limit."""
    settings: dict[str, Any] = dict(
        seed=11,
        markets_target=150,
        market_lifetime_s=600.0,
        history_days=1.0,
        history_events=120,
        clock_mode="manual",
        start_time=SIM_START,
        rate_tier="premier",
    )
    settings.update(overrides)
    return SimConfig(**settings)


class SimControl:
    """The simulator's `/_sim/` control plane, as the tests drive it."""

    def __init__(self, root_url: str) -> None:
        self.http = httpx.Client(base_url=root_url, timeout=30)

    def faults(self, **faults: Any) -> dict[str, Any]:
        response = self.http.post("/_sim/faults", json=faults)
        response.raise_for_status()
        return response.json()

    def advance(self, seconds: float) -> float:
        response = self.http.post("/_sim/clock", json={"advance_seconds": seconds})
        response.raise_for_status()
        return float(response.json()["now_ts"])

    def now(self) -> float:
        return float(self.http.get("/_sim/clock").json()["now_ts"])

    def state(self) -> dict[str, Any]:
        return self.http.get("/_sim/state").json()

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(f"/trade-api/v2{path}", params=params)
        response.raise_for_status()
        return response.json()

    def listing(self, path: str, field: str = "markets", **params: Any) -> list[dict[str, Any]]:
        """Every item of a cursor-paged listing."""
        items, cursor = [], ""
        while True:
            page = self.api(path, limit=1000, cursor=cursor, **params)
            items += page[field]
            cursor = page["cursor"]
            if not cursor:
                return items


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(small_world()) as server:
        yield server


@pytest.fixture
def sim(simulator: SimulatorServer) -> Iterator[SimControl]:
    control = SimControl(simulator.root_url)
    yield control
    control.http.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "flb.duckdb"


@pytest.fixture
def store(db_path: Path) -> Store:
    return Store(db_path)


def definitions_for(
    exchange_url: str,
    db_path: Path,
    *,
    exchange: dict[str, Any] | None = None,
    risk: dict[str, Any] | None = None,
    trading: dict[str, Any] | None = None,
    **store: Any,
) -> dg.Definitions:
    """The code location's Definitions against `exchange_url`, with tuned resources; files
    for humans go next to the database, never into the repository's data/."""
    return build_definitions(
        Settings(db_path=str(db_path), exchange="sim", exchange_url=exchange_url),
        exchange=ExchangeResource(
            **{"exchange": "sim", "base_url": exchange_url, **(exchange or {})}
        ),
        store=StoreResource(db_path=str(db_path), **store),
        risk=RiskResource(**(risk or {})),
        trading=TradingResource(**(trading or {})),
        reports=ReportsResource(
            exports_dir=str(db_path.parent / "exports"),
            reports_dir=str(db_path.parent / "reports"),
        ),
    )


@pytest.fixture
def flb_defs(simulator: SimulatorServer, db_path: Path) -> dg.Definitions:
    return definitions_for(simulator.url, db_path)


def run_job(
    defs: dg.Definitions,
    job_name: str,
    *,
    run_config: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """Run a job of the code location in-process, as schedules and sensors launch it."""
    return defs.resolve_job_def(job_name).execute_in_process(
        run_config={**QUIET, **(run_config or {})}, instance=instance, raise_on_error=False
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


SLOW_PORTFOLIO: dict[str, Any] = dict(
    latency_ms=700, latency_path_prefix="/portfolio/", latency_method="GET"
)
"""An exchange slow to answer portfolio reads: a cycle's reconciliation then ages the quotes
it decides on past `STRICT_QUOTE_AGE`, so its stale_book check blocks it."""
STRICT_QUOTE_AGE: dict[str, Any] = {"max_quote_age_seconds": 1.0}

TRADING_WORLD: dict[str, Any] = dict(
    flb_slope=1.3, markets_target=300, market_lifetime_s=1200.0, history_events=1500
)


@pytest.fixture(scope="session")
def calibrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with settled history and a fitted model, built once per session."""
    root = tmp_path_factory.mktemp("calibrated")
    with SimulatorServer(small_world(**TRADING_WORLD)) as server:
        defs = definitions_for(server.url, root / "flb.duckdb")
        assert run_job(defs, "history_job").success
        # A few hundred settled events cannot prove edge per cell: the trading tests need a
        # model that trades, so the gate shows the mechanics (see EDGE_ONLY_GATE).
        gate = calibration_run_config(EDGE_ONLY_GATE)
        assert run_job(defs, "calibration_job", run_config=gate).success
    return root / "flb.duckdb"


@pytest.fixture
def trading_sim() -> Iterator[SimulatorServer]:
    """The exchange the template's history came from, fresh: no positions, clock at start."""
    with SimulatorServer(small_world(**TRADING_WORLD)) as server:
        yield server


@pytest.fixture
def trading_control(trading_sim: SimulatorServer) -> Iterator[SimControl]:
    control = SimControl(trading_sim.root_url)
    yield control
    control.http.close()


@pytest.fixture
def trading_db(calibrated_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "flb.duckdb"
    shutil.copyfile(calibrated_template, target)
    return target
