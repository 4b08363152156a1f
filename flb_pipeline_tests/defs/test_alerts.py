"""Alert sensors through Dagster's sensor contexts: one line per trip, one per failure reason,
nothing for a cycle the risk checks blocked, and the webhook sink on a loopback receiver."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import dagster as dg

from flb_pipeline.core import risk
from flb_pipeline.core.alerts import Alert
from flb_pipeline.core.risk import RiskEvent
from flb_pipeline.defs.alerts import (
    AlertsResource,
    kill_switch_trip_sensor,
    run_failure_alert_sensor,
)
from flb_pipeline.defs.resources import ClockResource, ExchangeResource, StoreResource
from flb_pipeline.store import Store
from flb_pipeline.store.risk import append_risk_event
from flb_pipeline_tests.conftest import (
    SLOW_PORTFOLIO,
    STRICT_QUOTE_AGE,
    check_results,
    definitions_for,
    run_job,
)

AT = datetime(2026, 3, 2, 15, tzinfo=UTC)


def sensor_resources(db: Path, log: Path, **alerts: object) -> dict[str, object]:
    exchange = ExchangeResource(exchange="demo", execution="paper")
    return {
        "store": StoreResource(db_path=str(db)),
        "alerts": AlertsResource(file_path=str(log), **alerts),
        "clock": ClockResource(exchange=exchange),
    }


def tick_trip_sensor(instance: dg.DagsterInstance, cursor: str | None, db: Path, log: Path):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=sensor_resources(db, log)
    ) as context:
        kill_switch_trip_sensor(context)
        return context.cursor


def alert_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_each_trip_alerts_once_however_many_cycles_it_blocks(
    trading_sim, trading_control, trading_db, tmp_path
):
    log = tmp_path / "alerts.log"
    defs = definitions_for(trading_sim.url, trading_db, risk=STRICT_QUOTE_AGE)
    trading_control.faults(**SLOW_PORTFOLIO)
    with dg.instance_for_test() as instance:
        for _ in range(3):
            assert check_results(run_job(defs, "trading_job"))["stale_book"] is False
        cursor = tick_trip_sensor(instance, None, trading_db, log)
        assert tick_trip_sensor(instance, cursor, trading_db, log) == cursor
    (line,) = alert_lines(log)
    assert " ALERT kill_switch stale_book: tripped: oldest quote used is " in line


def test_a_new_trip_after_a_reset_alerts_again(tmp_path):
    db, log = tmp_path / "flb.duckdb", tmp_path / "alerts.log"
    with Store(db).connect() as con:
        append_risk_event(con, RiskEvent(AT, risk.ERROR_BURST, risk.TRIP, None, "12 failed"))
    with dg.instance_for_test() as instance:
        cursor = tick_trip_sensor(instance, None, db, log)
        with Store(db).connect() as con:
            append_risk_event(con, RiskEvent(AT, risk.ERROR_BURST, risk.RESET, None, "ok"))
            append_risk_event(con, RiskEvent(AT, risk.ERROR_BURST, risk.TRIP, None, "14 failed"))
        tick_trip_sensor(instance, cursor, db, log)
    assert [line.split(": ", 2)[-1] for line in alert_lines(log)] == ["12 failed", "14 failed"]


def alert_failure(instance: dg.DagsterInstance, result, db: Path, log: Path) -> None:
    """Evaluate the run-failure alert sensor on `result`'s failure, as the daemon would."""
    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    with dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources=sensor_resources(db, log),
    ) as context:
        run_failure_alert_sensor(context.for_run_failure())


def test_a_failure_alerts_once_per_reason_until_the_job_succeeds(
    trading_sim, trading_control, trading_db, tmp_path
):
    log = tmp_path / "alerts.log"
    unreachable = definitions_for("http://127.0.0.1:9/trade-api/v2", trading_db)
    healthy = definitions_for(trading_sim.url, trading_db)
    with dg.instance_for_test() as instance:
        for expected_lines, defs in ((1, unreachable), (1, unreachable), (1, healthy),
                                     (2, unreachable)):  # fmt: skip
            result = run_job(defs, "snapshot_job", instance=instance)
            if not result.success:
                alert_failure(instance, result, trading_db, log)
            assert len(alert_lines(log)) == expected_lines
    assert all(" ALERT run_failure snapshot_job: " in line for line in alert_lines(log))
    assert "cannot read the simulator clock at http://127.0.0.1:9" in alert_lines(log)[0]
    with Store(trading_db).connect() as con:
        (recorded,) = con.execute("SELECT count(*) FROM alerts").fetchone()
    assert recorded == 2


def test_a_cycle_blocked_by_risk_checks_raises_no_run_failure_alert(
    trading_sim, trading_control, trading_db, tmp_path
):
    log = tmp_path / "alerts.log"
    defs = definitions_for(trading_sim.url, trading_db, risk=STRICT_QUOTE_AGE)
    trading_control.faults(**SLOW_PORTFOLIO)
    with dg.instance_for_test() as instance:
        blocked = run_job(defs, "trading_job", instance=instance)
        assert not blocked.success and check_results(blocked)["stale_book"] is False
        alert_failure(instance, blocked, trading_db, log)
    assert alert_lines(log) == []


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_the_webhook_sink_posts_each_alert_as_json(tmp_path, caplog):
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token"
    alert = Alert(AT, "kill_switch", "daily_loss", "tripped: today's P&L -512.00 <= -500.00")
    try:
        sink = AlertsResource(file_path=str(tmp_path / "alerts.log"), webhook_url=url)
        sink.send(
            alert, StoreResource(db_path=str(tmp_path / "flb.duckdb")), dg.get_dagster_logger()
        )
        dead = AlertsResource(file_path=str(tmp_path / "alerts.log"), webhook_url=url + "x")
        server.shutdown()
        dead.send(
            alert, StoreResource(db_path=str(tmp_path / "flb.duckdb")), dg.get_dagster_logger()
        )
    finally:
        server.server_close()
    assert Receiver.received == [
        {"text": alert.line(), "kind": "kill_switch", "key": "daily_loss",
         "message": alert.message, "at": AT.isoformat()}
    ]  # fmt: skip
    assert len(alert_lines(tmp_path / "alerts.log")) == 2
    assert "secret-token" not in caplog.text
