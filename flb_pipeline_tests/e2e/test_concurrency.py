"""Concurrent runs on one DuckDB file under `dagster dev`: two trading cycles, a history
backfill and a daily summary launched at the same moment. Each run either runs or waits in
Dagster's run queue for the `duckdb` pool; none fails on the file lock, no two runs hold the
store at once, and the counts show no row lost or duplicated."""

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.defs.checks import SWITCHES
from flb_pipeline.store import Store
from flb_pipeline_tests.e2e.harness import Deployment

pytestmark = pytest.mark.e2e
SIM = ["--seed", "9", "--markets", "250", "--history-events", "800", "--history-days", "1",
       "--flb-slope", "1.3"]  # fmt: skip
LOCK_WAIT_S = 1.0
"""How long each run waits for the DuckDB file here (30 s by default): shorter than any of
these runs, so a run that met another on the file instead of in the queue would fail."""
REFETCH_ALL_HISTORY = {"ops": {"settled_history": {"config": {"overlap_s": 3 * 86400.0}}}}
"""history_job that fetches every settled market of the last three days again."""


@dataclass(frozen=True)
class Launch:
    job: str
    run_config: dict[str, Any] = field(default_factory=dict)
    partition: str | None = None


def today() -> str:
    return datetime.now(ZoneInfo("America/New_York")).date().isoformat()


CONCURRENT_RUNS = (
    Launch("trading_job"),
    Launch("trading_job"),
    Launch("history_job", REFETCH_ALL_HISTORY),
    Launch("daily_summary_job", partition=today()),
)
"""Launched together; a job that joins the mix (e.g. a backtest) is one more line here."""


def impatient(deployment: Deployment, launch: Launch) -> dict[str, Any]:
    """`launch`'s run config with the short lock wait (resource config given at launch
    replaces the deployment's, so the store's path is given again)."""
    store = {"db_path": str(deployment.db_path), "lock_timeout_s": LOCK_WAIT_S}
    return {**launch.run_config, "resources": {"store": {"config": store}}}


def rows(deployment: Deployment, sql: str) -> list[tuple]:
    with Store(deployment.db_path, lock_timeout_s=60).connect() as con:
        return con.execute(sql).fetchall()


def scalar(deployment: Deployment, sql: str) -> int:
    return rows(deployment, sql)[0][0]


def test_runs_launched_together_wait_their_turn_and_lose_nothing(tmp_path):
    with Deployment(tmp_path, sim_args=SIM) as dev:
        assert dev.wait_for_run(dev.launch("history_job")) == "SUCCESS"
        gate = calibration_run_config(EDGE_ONLY_GATE)
        assert dev.wait_for_run(dev.launch("calibration_job", gate)) == "SUCCESS"
        settled_before = scalar(dev, "SELECT count(*) FROM settled_markets")

        run_ids = [
            dev.launch(r.job, impatient(dev, r), partition=r.partition) for r in CONCURRENT_RUNS
        ]
        statuses = {run_id: dev.wait_for_run(run_id, timeout_s=300) for run_id in run_ids}
        runs = [dev.run(run_id) for run_id in run_ids]
        exchange_orders = dev.simulator().api("/portfolio/orders", limit=1000)["orders"]
        exchange_fills = dev.simulator().api("/portfolio/fills", limit=1000)["fills"]

    print(
        "\nconcurrent runs (job, status, waited s, ran s): "
        + "; ".join(
            f"{r['jobName']} {r['status']} {r['startTime'] - r['creationTime']:.1f}"
            f" {r['endTime'] - r['startTime']:.1f}"
            for r in runs
        )
    )
    assert list(statuses.values()) == ["SUCCESS"] * len(CONCURRENT_RUNS), runs  # none on a lock
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans)), spans

    trading = [r for r in runs if r["jobName"] == "trading_job"]
    cycles = rows(
        dev,
        "SELECT s.scan_id, s.markets, count(m.ticker), count(DISTINCT m.ticker) FROM scans s"
        " LEFT JOIN market_snapshots m USING (scan_id) WHERE s.status = 'complete'"
        " GROUP BY ALL",
    )
    assert len(cycles) == len(trading)
    assert all(markets == snapshots == distinct > 0 for _, markets, snapshots, distinct in cycles)
    assert scalar(dev, "SELECT count(*) FROM scans WHERE status <> 'complete'") == 0
    verdicts = rows(dev, "SELECT scan_id, count(*) FROM risk_check_results GROUP BY scan_id")
    assert sorted(count for _, count in verdicts) == [len(SWITCHES) + 1] * len(trading)

    local_orders = rows(dev, "SELECT client_order_id FROM orders")
    assert len(local_orders) == len({cid for (cid,) in local_orders}) > 0
    assert {cid for (cid,) in local_orders} == {o["client_order_id"] for o in exchange_orders}
    local_fills = rows(dev, "SELECT fill_id FROM fills")
    assert {fid for (fid,) in local_fills} == {f["fill_id"] for f in exchange_fills}
    assert len(local_fills) == len(exchange_fills)

    settled = rows(dev, "SELECT count(*), count(DISTINCT ticker) FROM settled_markets")
    assert settled[0][0] == settled[0][1] >= settled_before
    assert (tmp_path / "exports" / "daily" / f"{today()}.json").exists()
