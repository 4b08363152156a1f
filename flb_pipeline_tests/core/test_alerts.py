from datetime import UTC, datetime

from flb_pipeline.core import risk
from flb_pipeline.core.alerts import Alert, failure_key, trip_alerts
from flb_pipeline.core.risk import RiskEvent

AT = datetime(2026, 3, 2, 15, tzinfo=UTC)


def test_only_trips_alert_and_each_names_its_switch_reason_and_pause():
    events = [
        RiskEvent(AT, risk.DAILY_LOSS, risk.TRIP, datetime(2026, 3, 3, 5, tzinfo=UTC), "-512"),
        RiskEvent(AT, risk.DAILY_LOSS, risk.RESET, None, "recovered"),
        RiskEvent(AT, risk.MANUAL_HALT, risk.HALT, None, "fed day"),
    ]
    (alert,) = trip_alerts(events)
    assert alert.line() == (
        "2026-03-02T15:00:00Z ALERT kill_switch daily_loss: tripped: -512;"
        " paused until 2026-03-03T05:00:00+00:00"
    )


def test_a_run_blocked_only_by_risk_checks_has_no_failure_alert_of_its_own():
    assert failure_key(["stale_book", "manual_halt"], []) is None
    assert failure_key(["no_crossed_books"], []) == "checks failed: no_crossed_books"
    assert failure_key(["stale_book"], ["order_submissions"]) == "checks failed: stale_book"
    assert failure_key([], ["market_snapshots"]) == "steps failed: market_snapshots"
    assert failure_key([], [], "clock down") == "run failed: clock down"
    assert Alert(AT, "k", "x", "m").line() == "2026-03-02T15:00:00Z ALERT k x: m"
