"""Alert sensors and where their lines go.

`kill_switch_trip_sensor` turns every trip recorded in `risk_events` into one alert line;
`run_failure_alert_sensor` alerts a failed run once per distinct reason until that job
succeeds again, and not at all when risk checks alone blocked it (the trip has alerted).
Lines go to the Dagster log and a file beside the store by default, and to a webhook when
one is configured; a sink that fails is logged and never stops the others.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import dagster as dg
import httpx

from flb_pipeline.core.alerts import RUN_FAILURE, Alert, failure_key, trip_alerts
from flb_pipeline.defs.resources import ClockResource, StoreResource
from flb_pipeline.store import StoreUnavailable
from flb_pipeline.store.alerts import last_failure_alert, record_alert
from flb_pipeline.store.risk import risk_events_after

ALERT_LOG = "alerts.log"
SENSOR_LOCK_WAIT_S = 2.0
log = logging.getLogger(__name__)


class AlertsResource(dg.ConfigurableResource):
    """Where alert lines go: the log always, a file (default `alerts.log` beside the store)
    and optionally a webhook that receives each alert as JSON."""

    file_path: str | None = None
    webhook_url: str | None = None
    webhook_timeout_s: float = 5.0

    def send(self, alert: Alert, store: StoreResource, logger: logging.Logger) -> None:
        line = alert.line()
        logger.warning(line)
        self._append(line, Path(self.file_path or Path(store.db_path).parent / ALERT_LOG), logger)
        if self.webhook_url:
            self._post(alert, line, logger)

    def _append(self, line: str, path: Path, logger: logging.Logger) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")
        except OSError as error:
            logger.error(f"alert not written to {path}: {error}")

    def _post(self, alert: Alert, line: str, logger: logging.Logger) -> None:
        body = {"text": line, "kind": alert.kind, "key": alert.key, "message": alert.message,
                "at": alert.at.isoformat()}  # fmt: skip
        try:
            response = httpx.post(self.webhook_url or "", json=body, timeout=self.webhook_timeout_s)
        except httpx.HTTPError as error:  # the URL may carry a token: never in the log
            logger.error(f"alert not delivered to the webhook: {type(error).__name__}")
            return
        if response.is_error:
            logger.error(f"alert not delivered to the webhook: HTTP {response.status_code}")


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert line per kill-switch trip recorded in risk_events.",
)
def kill_switch_trip_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource
) -> dg.SkipReason:
    after = int(context.cursor) if context.cursor else -1  # rowids start at 0
    try:
        with store.store(lock_timeout_s=SENSOR_LOCK_WAIT_S).connect() as con:
            recorded = risk_events_after(con, after)
    except StoreUnavailable as error:
        return dg.SkipReason(f"store busy, looking again next tick: {error}")
    trips = trip_alerts(event for _, event in recorded)
    for alert in trips:
        alerts.send(alert, store, context.log)
    if recorded:
        context.update_cursor(str(recorded[-1][0]))
    return dg.SkipReason(f"{len(trips)} trip(s) alerted")


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert line per failed run, once per reason until the job succeeds.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext,
    store: StoreResource,
    alerts: AlertsResource,
    clock: ClockResource,
) -> None:
    run = context.dagster_run
    reason = failure_key(*_failures(context.instance, run.run_id), _run_error(context))
    if reason is None:
        return
    created = _created_at(context.instance, run.run_id)
    with store.store(lock_timeout_s=SENSOR_LOCK_WAIT_S).connect() as con:
        sent = last_failure_alert(con, RUN_FAILURE, run.job_name)
        if (
            sent
            and sent.reason == reason
            and not _succeeded_between(context.instance, run.job_name, sent.run_created_ts, created)
        ):
            return
        message = f"run {run.run_id} failed: {reason}"
        alert = Alert(clock.now(), RUN_FAILURE, run.job_name, message)
        record_alert(con, alert, reason, run.run_id, created)
    alerts.send(alert, store, context.log)


def _failures(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str]]:
    """(failed checks, failed steps that are not checks) of one run."""
    checks = [
        record.event_log_entry.dagster_event.asset_check_evaluation_data.check_name
        for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        if not record.event_log_entry.dagster_event.asset_check_evaluation_data.passed
    ]
    steps = [
        record.event_log_entry.dagster_event.step_key or ""
        for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records
    ]
    return checks, [step for step in steps if not _is_check_step(step)]


def _run_error(context: dg.RunFailureSensorContext) -> str:
    """The run's own error and its cause, each on one line (empty when none is recorded)."""
    error = getattr(context.failure_event.event_specific_data, "error", None)
    if error is None:
        return ""
    lines = [error.message.strip()]
    if error.cause is not None:
        lines.append(error.cause.message.strip())
    return " <- ".join(line.splitlines()[0] for line in lines if line)


def _is_check_step(step_key: str) -> bool:
    return step_key.endswith(("risk_checks", "snapshot_quality"))


def _created_at(instance: dg.DagsterInstance, run_id: str) -> float:
    record = instance.get_run_record_by_id(run_id)
    return record.create_timestamp.timestamp() if record else datetime.now().timestamp()


def _succeeded_between(
    instance: dg.DagsterInstance, job_name: str, after: float, before: float
) -> bool:
    """Whether a run of `job_name` created in (after, before) succeeded: then the same
    failure again is news."""
    succeeded = instance.get_run_records(
        dg.RunsFilter(
            job_name=job_name,
            statuses=[dg.DagsterRunStatus.SUCCESS],
            created_after=datetime.fromtimestamp(after).astimezone(),
            created_before=datetime.fromtimestamp(before).astimezone(),
        ),
        limit=1,
    )
    return bool(succeeded)


ALERT_SENSORS = [kill_switch_trip_sensor, run_failure_alert_sensor]
