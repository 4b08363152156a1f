"""End to end: `flb sim` and `dagster dev` as real processes, driven through GraphQL as the UI
drives them; the daemon runs the sensor and the backfill."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flb_pipeline.store import Store
from flb_pipeline_tests.e2e.harness import Deployment

pytestmark = pytest.mark.e2e
SIM = ["--seed", "5", "--markets", "200", "--history-events", "800", "--history-days", "1",
       "--flb-slope", "1.3"]  # fmt: skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with Deployment(tmp_path_factory.mktemp("e2e"), sim_args=SIM) as running:
        yield running


def count(deployment: Deployment, sql: str) -> int:
    with Store(deployment.db_path, lock_timeout_s=60).connect() as con:
        return con.execute(sql).fetchone()[0]


def test_history_and_snapshot_materialise_from_the_ui(deployment):
    assert deployment.wait_for_run(deployment.launch("history_job")) == "SUCCESS"
    assert deployment.wait_for_run(deployment.launch("snapshot_job")) == "SUCCESS"
    assert count(deployment, "SELECT count(*) FROM settled_markets") > 1000
    assert count(deployment, "SELECT count(*) FROM market_snapshots") > 100
    assert count(deployment, "SELECT count(*) FROM scans WHERE status = 'complete'") == 1


def test_sensor_launches_whole_trading_cycles_with_run_keys(deployment):
    assert deployment.wait_for_run(deployment.launch("calibration_job")) == "SUCCESS"
    assert deployment.start_sensor("trading_job_sensor") == "RUNNING"
    deadline = time.monotonic() + 150
    finished = []
    while not finished and time.monotonic() < deadline:
        finished = [r for r in deployment.runs("trading_job") if r["status"] == "SUCCESS"]
        time.sleep(1)
    assert finished, [r["status"] for r in deployment.runs("trading_job")]
    tags = {t["key"]: t["value"] for t in finished[0]["tags"]}
    assert tags["dagster/run_key"].startswith("trading-cycle-")
    assert tags["dagster/sensor_name"] == "trading_job_sensor"
    assert count(deployment, "SELECT count(*) FROM risk_check_results") >= 8
    assert count(deployment, "SELECT count(*) FROM orders") == count(
        deployment, "SELECT count(DISTINCT client_order_id) FROM orders"
    )


def test_daily_summaries_backfill_over_a_range_of_days(deployment):
    today = datetime.now(ZoneInfo("America/New_York")).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    backfill = deployment.backfill("daily_metrics_summary", days)
    assert deployment.wait_for_backfill(backfill) in {"COMPLETED", "COMPLETED_SUCCESS"}
    for day in days:
        assert (deployment.root / "exports" / "daily" / f"{day}.json").exists()
        assert (deployment.root / "reports" / "daily" / day / "report.html").exists()
