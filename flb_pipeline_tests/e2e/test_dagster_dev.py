"""End to end: `flb sim` and `dagster dev` as real processes, driven through GraphQL as the UI
drives them, the daemon running the sensors, schedules, run queue and backfill.

One operator session, in order: materialise history and a scan from the UI, fit the model,
turn the trading sensor and the schedules on, watch cycles trade, break the exchange's
market records for a moment (an error burst) and see the next cycle blocked by `error_burst`
with nothing sent and the trip alerted once to a webhook, let the burst age out of the
switch's window and see trading resume, summarise days (one partition and a backfill of
three), and stop the deployment with SIGTERM."""

import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from flb_pipeline.defs.assets.model import EDGE_ONLY_GATE, calibration_run_config
from flb_pipeline.defs.checks import SWITCHES
from flb_pipeline.store import Store
from flb_pipeline_tests.e2e.harness import Deployment, WebhookReceiver

pytestmark = pytest.mark.e2e
SIM = ["--seed", "5", "--markets", "200", "--history-events", "800", "--history-days", "1",
       "--flb-slope", "1.3"]  # fmt: skip
ON_BY_DEFAULT = {
    "retention_job_schedule": "RUNNING",
    "history_job_schedule": "RUNNING",
    "calibration_job_schedule": "RUNNING",
    "reconcile_job_schedule": "RUNNING",
    "daily_summary_job_schedule": "RUNNING",
    "snapshot_job_schedule": "STOPPED",
}
ERROR_BURST = {"missing_field": "close_time"}
"""Every market record of a scan arrives without its close time: each one is an API error
(DESIGN §4), hundreds in one scan, far over the 10 the switch allows in 60 minutes."""
BURST_AGES_OUT_S = 61 * 60
WAIT_S = 150
SESSION_TIMEOUT_S = 900
"""The whole session: a dozen runs, each a new process, and sensor ticks 30 s apart; on a
busy 2-core machine it takes up to ten minutes (the suite's per-test limit is 300 s)."""


def rows(deployment: Deployment, sql: str, *params: Any) -> list[tuple]:
    with Store(deployment.db_path, lock_timeout_s=60).connect() as con:
        return con.execute(sql, list(params)).fetchall()


def scalar(deployment: Deployment, sql: str, *params: Any) -> Any:
    return rows(deployment, sql, *params)[0][0]


def wait_until(what: str, found: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(1)
    raise TimeoutError(f"no {what} within {timeout_s:.0f}s")


def sensor_cycles(deployment: Deployment, after: float) -> list[dict[str, Any]]:
    """Trading runs the sensor launched after `after` (wall time), oldest first."""
    launched = [
        run for run in deployment.runs("trading_job")
        if run["creationTime"] > after
        and any(tag["key"] == "dagster/sensor_name" for tag in run["tags"])
    ]  # fmt: skip
    return sorted(launched, key=lambda run: run["creationTime"])


def next_sensor_cycle(deployment: Deployment, after: float) -> dict[str, Any]:
    """The first trading run the sensor launched after `after`, once finished."""

    def finished() -> dict[str, Any] | None:
        first = next(iter(sensor_cycles(deployment, after)), None)
        return first if first and first["status"] in {"SUCCESS", "FAILURE"} else None

    return wait_until("trading cycle from the sensor", finished)


def first_trading_cycle(deployment: Deployment, after: float = 0.0) -> dict[str, Any]:
    """The first successful cycle launched after `after` that sent orders."""

    def traded() -> dict[str, Any] | None:
        done = [r for r in sensor_cycles(deployment, after) if r["status"] == "SUCCESS"]
        return next((r for r in done if orders_of_run(deployment, r["runId"]) > 0), None)

    return wait_until("trading cycle that sent orders", traded)


def verdicts(deployment: Deployment, run_id: str) -> dict[str, tuple[bool, float | None]]:
    return {
        name: (passed, value)
        for name, passed, value in rows(
            deployment,
            "SELECT check_name, passed, value FROM risk_check_results WHERE run_id = ?",
            run_id,
        )
    }


def orders_of_run(deployment: Deployment, run_id: str) -> int:
    return scalar(
        deployment,
        "SELECT count(*) FROM orders WHERE scan_id IN"
        " (SELECT scan_id FROM risk_check_results WHERE run_id = ?)",
        run_id,
    )


@pytest.mark.timeout(SESSION_TIMEOUT_S)
def test_an_operator_session_under_dagster_dev(tmp_path):
    with WebhookReceiver() as webhook:
        dev = Deployment(tmp_path, sim_args=SIM, env={"FLB_ALERT_WEBHOOK_URL": webhook.url})
        with dev:
            timed(materialise_from_the_ui, dev)
            timed(turn_trading_on, dev)
            timed(cycles_trade, dev)
            timed(an_error_burst_blocks_the_next_cycle, dev, webhook)
            timed(trading_resumes_once_the_burst_ages_out, dev)
            timed(daily_summaries_succeed, dev)
            stopped = timed(Deployment.stop, dev)
    the_deployment_stopped_cleanly(dev, stopped)


def timed(phase: Callable[..., Any], *args: Any) -> Any:
    """Run one phase of the session and print how long it took (wall seconds)."""
    started = time.monotonic()
    result = phase(*args)
    print(f"{phase.__name__}: {time.monotonic() - started:.1f} s")
    return result


def materialise_from_the_ui(dev: Deployment) -> None:
    assert dev.wait_for_run(dev.launch("history_job")) == "SUCCESS"
    assert dev.wait_for_run(dev.launch("snapshot_job")) == "SUCCESS"
    assert scalar(dev, "SELECT count(*) FROM settled_markets") > 1000
    assert scalar(dev, "SELECT count(*) FROM market_snapshots") > 100
    assert scalar(dev, "SELECT count(*) FROM scans WHERE status = 'complete'") == 1
    gate = calibration_run_config(EDGE_ONLY_GATE)
    assert dev.wait_for_run(dev.launch("calibration_job", gate)) == "SUCCESS"


def turn_trading_on(dev: Deployment) -> None:
    assert dev.schedules() == ON_BY_DEFAULT
    assert dev.start_sensor("trading_job_sensor") == "RUNNING"
    assert dev.start_schedule("snapshot_job_schedule") == "RUNNING"
    assert set(dev.schedules().values()) == {"RUNNING"}


def cycles_trade(dev: Deployment) -> None:
    cycle = first_trading_cycle(dev)
    tags = {tag["key"]: tag["value"] for tag in cycle["tags"]}
    assert tags["dagster/run_key"].startswith("trading-cycle-")
    assert tags["dagster/sensor_name"] == "trading_job_sensor"
    assert all(passed for passed, _ in verdicts(dev, cycle["runId"]).values())
    assert len(verdicts(dev, cycle["runId"])) == len(SWITCHES) + 1  # and manual_halt
    assert dev.simulator().state()["orders"] >= orders_of_run(dev, cycle["runId"]) > 0
    assert scalar(dev, "SELECT count(*) FROM orders") == scalar(
        dev, "SELECT count(DISTINCT client_order_id) FROM orders"
    )


def an_error_burst_blocks_the_next_cycle(dev: Deployment, webhook: WebhookReceiver) -> None:
    exchange = dev.simulator()
    exchange.faults(**ERROR_BURST)
    assert dev.wait_for_run(dev.launch("snapshot_job")) == "FAILURE"
    exchange.faults(missing_field=None)
    cleared = time.time()
    sent_before = exchange.state()["orders"]

    blocked = next_sensor_cycle(dev, after=cleared)
    assert blocked["status"] == "FAILURE"
    passed, errors = verdicts(dev, blocked["runId"])["error_burst"]
    assert not passed and errors > 100
    assert orders_of_run(dev, blocked["runId"]) == 0
    assert exchange.state()["orders"] == sent_before

    def trip_alerts() -> list[dict[str, Any]]:
        return [a for a in webhook.received if a["kind"] == "kill_switch"]

    (alert,) = [a for a in wait_until("trip alert", trip_alerts) if a["key"] == "error_burst"]
    assert alert["message"].startswith("tripped: ")
    about_the_run = [a for a in webhook.received if blocked["runId"] in a["message"]]
    assert about_the_run == []  # blocked by a switch: the trip alerted, not the run


def trading_resumes_once_the_burst_ages_out(dev: Deployment) -> None:
    exchange = dev.simulator()
    exchange.advance(BURST_AGES_OUT_S)
    moved = time.time()
    sent_before = exchange.state()["orders"]
    first = next_sensor_cycle(dev, after=moved)
    assert verdicts(dev, first["runId"])["error_burst"][0], verdicts(dev, first["runId"])
    resumed = first_trading_cycle(dev, after=moved)
    assert exchange.state()["orders"] > sent_before
    assert all(passed for passed, _ in verdicts(dev, resumed["runId"]).values())
    events = rows(
        dev, "SELECT kind FROM risk_events WHERE check_name = 'error_burst' ORDER BY rowid"
    )
    assert events == [("trip",), ("reset",)]


def daily_summaries_succeed(dev: Deployment) -> None:
    today = datetime.now(ZoneInfo("America/New_York")).date()
    one = today.isoformat()
    three = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    single = dev.launch("daily_summary_job", partition=one)
    backfill = dev.backfill("daily_metrics_summary", three)  # its runs queue with the one
    assert dev.wait_for_run(single) == "SUCCESS"
    assert dev.wait_for_backfill(backfill) in {"COMPLETED", "COMPLETED_SUCCESS"}
    for day in [one, *three]:
        assert (dev.root / "exports" / "daily" / f"{day}.json").exists()
        assert (dev.root / "reports" / "daily" / day / "report.html").exists()


def the_deployment_stopped_cleanly(dev: Deployment, exit_codes: list[int | None]) -> None:
    simulator, dagster_dev = exit_codes
    assert dagster_dev == 0  # it stopped its webserver, daemon and code server itself
    assert simulator in (0, -signal.SIGTERM)
    # a cycle in flight when dagster dev stopped finishes in its own worker, then exits
    wait_until("the last run worker to exit", lambda: not dev.processes_left(), 120)
    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        unfinished = instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
        )
    assert unfinished == []
