"""daily_metrics_summary and the trade log, through Dagster, on a real DuckDB file."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from flb_pipeline.cli import main
from flb_pipeline.core.risk import Verdict
from flb_pipeline.defs.schedules import daily_summary_job_schedule
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.store import Store
from flb_pipeline.store.ledger import append_closed_trades
from flb_pipeline.store.risk import save_verdicts
from flb_pipeline.store.snapshots import begin_scan, finish_scan
from flb_pipeline_tests.conftest import QUIET, definitions_for
from flb_pipeline_tests.trade_fixtures import fixture_trades

DEAD_EXCHANGE = "http://127.0.0.1:9/trade-api/v2"  # reporting never talks to the exchange
DAY = "2026-03-02"
CLOSED_TRADES = dg.AssetKey("closed_trades")


@pytest.fixture
def traded_db(db_path):
    with Store(db_path).connect() as con:
        append_closed_trades(con, fixture_trades(), "exchange")
    return db_path


def summarise(db_path, day=DAY):
    job = definitions_for(DEAD_EXCHANGE, db_path).resolve_job_def("daily_summary_job")
    return job.execute_in_process(partition_key=day, run_config=QUIET, raise_on_error=False)


def summary_json(db_path, day=DAY) -> dict:
    return json.loads((db_path.parent / "exports" / "daily" / f"{day}.json").read_text())


def test_hand_computed_day_gives_exact_figures(traded_db):
    result = summarise(traded_db)
    assert result.success
    document = summary_json(traded_db)
    trading = document["trading"]
    assert (trading["trades"], trading["wins"], trading["contracts"]) == (4, 3, 180)
    assert (trading["cost"], trading["fees"]) == (165.2, 0.95)
    assert (trading["gross_pnl"], trading["net_pnl"]) == (4.8, 3.85)
    assert trading["net_bps"] == pytest.approx(233.050847, abs=1e-6)
    buckets = {b["low_cents"]: b for b in document["price_buckets"]}
    assert buckets[85]["trades"] == 2 and buckets[85]["net_pnl"] == 8.26
    assert buckets[85]["net_bps"] == pytest.approx(8.26 / 61.2 * 10_000, abs=1e-6)
    assert [(a["key"], a["net_pnl"]) for a in document["attribution"]["family"]] == [
        ("financials", 8.26),
        ("weather", -4.41),
    ]
    assert [(a["key"], a["net_pnl"]) for a in document["attribution"]["group"]] == [
        ("weather_california", -9.07),
        ("financials_kxinx", 8.26),
        ("weather_newyork", 4.66),
    ]
    assert document["edge"]["expected_pnl"] == 4.15 and document["edge"]["realised_pnl"] == 3.85
    assert document["slippage"]["trades"]["worst_bps"] == pytest.approx(117.647059, abs=1e-6)
    metadata = materialization_metadata(result, "daily_metrics_summary")
    assert metadata["net_pnl"] == 3.85 and metadata["trades"] == 4


def test_rerun_of_a_partition_is_idempotent(traded_db):
    assert summarise(traded_db).success
    first = (traded_db.parent / "exports" / "daily" / f"{DAY}.json").read_bytes()
    assert summarise(traded_db).success
    assert (traded_db.parent / "exports" / "daily" / f"{DAY}.json").read_bytes() == first


def test_report_has_four_labelled_plots(traded_db):
    summarise(traded_db)
    folder = traded_db.parent / "reports" / "daily" / DAY
    markdown = (folder / "report.md").read_text()
    for name in ("cumulative_pnl", "pnl_by_bucket", "outcome_reliability", "slippage"):
        assert (folder / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"]({name}.png)" in markdown
    assert '<img alt="slippage" src="slippage.png">' in (folder / "report.html").read_text()


def test_a_day_without_trades_is_a_valid_summary_that_says_so(db_path):
    result = summarise(db_path, day="2026-03-05")
    assert result.success
    text = (db_path.parent / "exports" / "daily" / "2026-03-05.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert document["note"] == "no trades closed on this day"
    assert document["trading"]["trades"] == 0 and document["trading"]["net_bps"] is None
    assert document["health"]["orders"]["fill_rate"] is None


def test_a_range_of_days_backfills(traded_db):
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        assert summarise(traded_db, day=day).success
    trades = [
        summary_json(traded_db, day)["trading"]["trades"]
        for day in ("2026-03-01", "2026-03-02", "2026-03-03")
    ]
    assert trades == [0, 4, 0]


def test_schedule_targets_the_previous_new_york_day():
    just_after_midnight = datetime(2026, 3, 3, 0, 30, tzinfo=ZoneInfo("America/New_York"))
    context = dg.build_schedule_context(scheduled_execution_time=just_after_midnight)
    request = daily_summary_job_schedule(context)
    assert request.partition_key == "2026-03-02"
    late_utc = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)  # still 23:30 on the 2nd in New York
    request = daily_summary_job_schedule(
        dg.build_schedule_context(scheduled_execution_time=late_utc)
    )
    assert request.partition_key == "2026-03-01"


def test_flb_report_prints_the_day(traded_db, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(traded_db))
    assert main(["report", "--day", DAY]) == 0
    out = capsys.readouterr().out
    rows = {line.split("  ")[0]: line.split()[-1] for line in out.splitlines() if "  " in line}
    assert rows["trades closed"] == "4" and rows["net P&L ($)"] == "3.85"
    assert "85-90¢" in out


def test_trade_log_has_one_header_no_duplicates_and_is_rebuilt_when_corrupt(traded_db):
    defs = definitions_for(DEAD_EXCHANGE, traded_db)
    job = defs.resolve_implicit_global_asset_job_def()
    log = traded_db.parent / "exports" / "trades_log.csv"
    for _ in range(2):
        result = job.execute_in_process(asset_selection=[CLOSED_TRADES], run_config=QUIET)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("trade_id,ticker,family,group_id,side,entry_price")
    assert len(lines) == 5 and len(set(lines)) == 5
    assert materialization_metadata(result, "closed_trades")["trade_log_rebuilt"] is False
    log.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[1] + "\n" + "garbage,,\n")
    rebuilt = job.execute_in_process(asset_selection=[CLOSED_TRADES], run_config=QUIET)
    assert materialization_metadata(rebuilt, "closed_trades")["trade_log_rebuilt"] is True
    assert log.read_text().splitlines() == lines
    log.unlink()
    job.execute_in_process(asset_selection=[CLOSED_TRADES], run_config=QUIET)
    assert log.read_text().splitlines() == lines


def record_scan(con, scan_id: str, started_at: datetime, status: str = "complete") -> None:
    begin_scan(con, scan_id, started_at, "all")
    finish_scan(con, scan_id, status=status, finished_at=started_at + timedelta(seconds=2),
                pages=1, invalid_records=0, latency_ms=2000.0)  # fmt: skip


def stale_book_verdict(value: float | None) -> Verdict:
    return Verdict("stale_book", True, value, 30.0, None, "hand-made")


def test_scans_per_hour_counts_the_hours_that_had_scans(db_path):
    """2026-03-02 (New York): 15 complete scans between 10:00 and 10:56, nothing else -> 15
    per hour, not 15 / 24. 2026-03-03: 15 scans in its 10:00 hour, none at 11:00, 4 complete
    and 1 failed in its 12:00 hour -> 19 complete over 2 hours = 9.5. A scan at 23:59 on
    03-01 belongs to neither."""
    with Store(db_path).connect() as con:
        record_scan(con, "before", datetime(2026, 3, 2, 4, 59, tzinfo=UTC))
        for n in range(15):
            record_scan(con, f"a{n}", datetime(2026, 3, 2, 15, 4 * n, tzinfo=UTC))
            record_scan(con, f"b{n}", datetime(2026, 3, 3, 15, 4 * n, tzinfo=UTC))
        for n in range(5):
            status = "failed" if n == 4 else "complete"
            record_scan(con, f"c{n}", datetime(2026, 3, 3, 17, 10 * n, tzinfo=UTC), status)
    figures = ("scans", "complete_scans", "failed_scans", "scan_hours", "scans_per_hour")
    expected = {"2026-03-02": (15, 15, 0, 1, 15.0), "2026-03-03": (20, 19, 1, 2, 9.5)}
    for day, figures_of_the_day in expected.items():
        assert summarise(db_path, day=day).success
        scans = summary_json(db_path, day)["health"]["scans"]
        assert tuple(scans[name] for name in figures) == figures_of_the_day, day


def test_quote_age_is_the_stale_book_checks_value(db_path):
    """Quote age = the age of the oldest quote a cycle used, when its stale_book check ran.
    2026-03-02: cycles recorded 2.0, 9.5 and 4.0 s, and one used no quote (NULL); another
    check's value and a stale_book value of the previous day do not count -> p50 4.0, max
    9.5. 2026-03-03 has only a cycle that used no quote -> null, not 0."""
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with Store(db_path).connect() as con:
        record_scan(con, "s0", at)  # no snapshots: the scans table knows no quote age
        for n, value in enumerate([2.0, 9.5, None, 4.0]):
            save_verdicts(con, f"s{n}", "run", [stale_book_verdict(value)],
                          at + timedelta(minutes=n))  # fmt: skip
        save_verdicts(con, "s0", "run", [Verdict("daily_loss", True, 50.0, 500.0, None, "-")], at)
        save_verdicts(con, "old", "run", [stale_book_verdict(99.0)], at - timedelta(days=1))
        save_verdicts(con, "s9", "run", [stale_book_verdict(None)], at + timedelta(days=1))
    assert summarise(db_path).success
    scans = summary_json(db_path)["health"]["scans"]
    assert (scans["quote_age_p50_s"], scans["quote_age_max_s"]) == (4.0, 9.5)
    assert summary_json(db_path)["health"]["scans"]["scans_per_hour"] == 1.0
    assert summarise(db_path, day="2026-03-03").success
    scans = summary_json(db_path, "2026-03-03")["health"]["scans"]
    assert (scans["quote_age_p50_s"], scans["quote_age_max_s"]) == (None, None)
