"""retention_job through Dagster: old scans' rows move to Parquet exactly once and stay
queryable; a crash between writing the archive and deleting the live rows loses nothing and
duplicates nothing."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flb_pipeline.core.records import MarketQuote
from flb_pipeline.store import Store
from flb_pipeline.store.archive import day_file, snapshots_everywhere
from flb_pipeline.store.decisions import save_groups
from flb_pipeline.store.snapshots import append_market_snapshots, begin_scan, finish_scan
from flb_pipeline_tests.conftest import SIM_START, definitions_for, run_job

DAYS_AGO = (20, 16, 13, 0)
MARKETS = ("A", "B", "C")


def quote(ticker: str, at) -> MarketQuote:
    return MarketQuote(
        ticker, f"E-{ticker}", "S", "", "", "active", Decimal("0.90"), Decimal("0.92"),
        Decimal("0.08"), Decimal("0.10"), None, 0, 0, at - timedelta(hours=1),
        at + timedelta(hours=1), at,
    )  # fmt: skip


def seed_scans(db: Path) -> None:
    """Two scans a day on each of four days, three markets each."""
    with Store(db).connect() as con:
        for days in DAYS_AGO:
            for minute in (0, 30):
                at = SIM_START - timedelta(days=days, minutes=minute)
                scan_id = f"scan-{days}-{minute}"
                begin_scan(con, scan_id, at, "all")
                append_market_snapshots(con, scan_id, [quote(t, at) for t in MARKETS], at)
                finish_scan(con, scan_id, status="complete", finished_at=at, pages=1,
                            invalid_records=0, latency_ms=1.0)  # fmt: skip
                save_groups(con, scan_id, {t: f"g-{t}" for t in MARKETS}, "event")


def live_rows(db: Path, table: str) -> int:
    with Store(db).connect() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def everywhere(db: Path) -> list[tuple]:
    store = Store(db)
    with store.connect() as con:
        view = snapshots_everywhere(con, store.archive_dir)
        return con.execute(f"SELECT scan_id, ticker FROM {view} ORDER BY 1, 2").fetchall()


def test_scans_past_the_window_move_to_parquet_once_and_stay_queryable(simulator, tmp_path):
    db = tmp_path / "flb.duckdb"
    seed_scans(db)
    before = everywhere(db)
    defs = definitions_for(simulator.url, db)
    result = run_job(defs, "retention_job")
    assert result.success
    (output,) = [e for e in result.all_events if e.is_successful_output]
    assert output.step_output_data.metadata["rows_moved"].value == {
        "market_snapshots": 12, "correlation_groups": 12,
    }  # fmt: skip
    assert live_rows(db, "market_snapshots") == live_rows(db, "correlation_groups") == 12
    archive = Store(db).archive_dir
    for days in (20, 16):
        day = (SIM_START - timedelta(days=days)).date()
        assert day_file(archive, "market_snapshots", day).exists()
    assert everywhere(db) == before and len(before) == 24

    assert run_job(defs, "retention_job").success  # nothing left to move
    assert everywhere(db) == before


def test_a_crash_between_archiving_and_deleting_duplicates_nothing(simulator, tmp_path):
    db = tmp_path / "flb.duckdb"
    seed_scans(db)
    before = everywhere(db)
    defs = definitions_for(simulator.url, db)
    assert run_job(defs, "retention_job").success
    seed_old = tmp_path / "again.duckdb"
    seed_scans(seed_old)
    with Store(db).connect() as con:  # the delete "never happened": the old rows are back
        con.execute(f"ATTACH '{seed_old}' AS again (READ_ONLY)")
        con.execute(
            "INSERT INTO market_snapshots SELECT * FROM again.market_snapshots"
            " WHERE scan_id LIKE 'scan-20-%'"
        )
        con.execute("DETACH again")
    assert live_rows(db, "market_snapshots") == 18
    assert run_job(defs, "retention_job").success
    assert live_rows(db, "market_snapshots") == 12
    assert everywhere(db) == before
