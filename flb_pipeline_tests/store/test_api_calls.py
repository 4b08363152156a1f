"""api_calls: final attempts, the error count error_burst reads, the health figures."""

from datetime import UTC, datetime, timedelta

import duckdb

from flb_pipeline.core.records import ApiCall
from flb_pipeline.store import Store, migrations
from flb_pipeline.store.api_calls import append_api_calls, errors_since
from flb_pipeline.store.health import api_totals, endpoint_latency

AT = datetime(2026, 3, 2, 15, tzinfo=UTC)


def test_calls_recorded_before_migration_6_count_as_final(monkeypatch):
    con = duckdb.connect()
    with monkeypatch.context() as before:
        before.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
        assert migrations.migrate(con)[-1] == 5
    con.execute(
        "INSERT INTO api_calls VALUES (?, 'GET', '/markets', 500, 3.0, 'server_error', 4)", [AT]
    )
    assert migrations.migrate(con)[0] == 6
    assert con.execute("SELECT final FROM api_calls").fetchall() == [(True,)]
    assert errors_since(con, AT) == 1


def test_health_keeps_attempts_and_adds_failed_calls_per_endpoint_and_in_total(tmp_path):
    calls = [
        ApiCall(AT, "GET", "/markets", 500, 3.0, "server_error", 1, final=False),
        ApiCall(AT, "GET", "/markets", 200, 5.0, None, 2),
        ApiCall(AT, "GET", "/markets", 200, 0.0, "schema_error"),  # a skipped record
        ApiCall(AT, "GET", "/series", 429, 1.0, "rate_limited", 1, final=False),
        ApiCall(AT, "GET", "/series", 429, 1.0, "rate_limited", 2),
    ]
    end = AT + timedelta(seconds=1)
    with Store(tmp_path / "flb.duckdb").connect() as con:
        append_api_calls(con, calls)
        totals = api_totals(con, AT, end)
        endpoints = endpoint_latency(con, AT, end)
        assert errors_since(con, AT) == 2
    assert {key: totals[key] for key in ("calls", "errors", "failed_calls")} == {
        "calls": 5,
        "errors": 4,
        "failed_calls": 2,
    }
    assert [
        (e["path"], e["calls"], e["errors"], e["failed_calls"], e["p50_ms"]) for e in endpoints
    ] == [("/markets", 3, 2, 1, 4.0), ("/series", 2, 2, 1, 1.0)]
