"""The call record against the simulator over HTTP: attempts are kept, failed calls counted."""

from datetime import UTC, datetime, timedelta

from flb_pipeline.exchange.client import ClientSettings, KalshiClient
from flb_pipeline.exchange.errors import ServerError
from flb_pipeline.store.api_calls import append_api_calls, errors_since
from flb_pipeline.store.health import api_totals, endpoint_latency

CALLS = 40


def test_retried_attempts_are_recorded_but_only_calls_that_failed_count_as_errors(
    simulator, sim, store
):
    sim.faults(error_rate=0.3)
    settings = ClientSettings(base_url=simulator.url, max_attempts=2, reads_per_s=1000.0)
    started = datetime.now(UTC)
    failed = 0
    with KalshiClient(settings, sleep=lambda seconds: None) as client:
        for _ in range(CALLS):
            try:
                client.exchange_state()
            except ServerError:
                failed += 1
        calls = client.drain_calls()
    attempt_errors = sum(call.error_class is not None for call in calls)
    recovered = attempt_errors - 2 * failed  # calls whose first attempt failed, second did not
    assert failed > 0 and recovered > 0  # this seed gives both kinds of call
    assert (
        sum(call.final for call in calls) == CALLS and len(calls) == CALLS + attempt_errors - failed
    )
    end = datetime.now(UTC) + timedelta(seconds=1)
    with store.connect() as con:
        append_api_calls(con, calls)
        assert errors_since(con, started) == failed
        totals = api_totals(con, started, end)
        (endpoint,) = endpoint_latency(con, started, end)
    assert (totals["calls"], totals["errors"], totals["failed_calls"]) == (
        len(calls),
        attempt_errors,
        failed,
    )
    assert (endpoint["path"], endpoint["failed_calls"], endpoint["errors"]) == (
        "/exchange/status",
        failed,
        attempt_errors,
    )
