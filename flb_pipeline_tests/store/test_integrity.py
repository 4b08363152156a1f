"""The integrity counts `flb soak` asserts on, against a real DuckDB file: a snapshot row
that disappears, a scan left running, archived rows that are not lost, net positions."""

from datetime import timedelta

from flb_pipeline.store import Store
from flb_pipeline.store.archive import archive_day
from flb_pipeline.store.integrity import net_open_contracts, scan_outcomes
from flb_pipeline.store.snapshots import begin_scan
from flb_pipeline_tests.conftest import SIM_START
from flb_pipeline_tests.defs.test_retention import seed_scans


def test_scans_that_kept_their_rows_lost_nothing(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    seed_scans(store.path)
    with store.connect() as con:
        outcomes = scan_outcomes(con, store.archive_dir)
    assert (outcomes.complete, outcomes.failed, outcomes.lost) == (8, 0, 0)


def test_a_row_gone_from_a_complete_scan_and_a_scan_left_running_are_lost(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    seed_scans(store.path)
    with store.connect() as con:
        con.execute("DELETE FROM market_snapshots WHERE scan_id = 'scan-0-0' AND ticker = 'A'")
        begin_scan(con, "scan-died", SIM_START, "all")
        outcomes = scan_outcomes(con, store.archive_dir)
    assert (outcomes.short_of_rows, outcomes.unfinished, outcomes.lost) == (1, 1, 2)


def test_archived_rows_are_not_lost(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    seed_scans(store.path)
    with store.connect() as con:
        archive_day(
            con, "market_snapshots", (SIM_START - timedelta(days=20)).date(), store.archive_dir
        )
        assert con.execute("SELECT count(*) FROM market_snapshots").fetchone() == (18,)
        assert scan_outcomes(con, store.archive_dir).lost == 0


def test_open_lots_net_as_the_exchange_reports_positions(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    with store.connect() as con:
        for order_id, ticker, side, contracts in (
            ("o1", "A", "yes", 5), ("o2", "A", "yes", 3), ("o3", "B", "no", 4),
            ("o4", "C", "yes", 2), ("o5", "C", "no", 2),
        ):  # fmt: skip
            con.execute(
                "INSERT INTO positions (execution, order_id, ticker, side, contracts, cost,"
                " fees, opened_at, source) VALUES ('exchange', ?, ?, ?, ?, 0, 0, ?, 'fills')",
                [order_id, ticker, side, contracts, SIM_START],
            )
        assert net_open_contracts(con, "exchange") == {"A": 8, "B": -4}
        assert net_open_contracts(con, "paper") == {}
