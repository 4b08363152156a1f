import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from flb_pipeline.core.records import ApiCall
from flb_pipeline.store import Store, StoreLocked
from flb_pipeline.store.api_calls import append_api_calls, errors_since
from flb_pipeline.store.bulk import append, money
from flb_pipeline.store.migrations import MIGRATIONS, current_version, migrate


def hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process holding the DuckDB file read-write, as a Dagster run would."""
    script = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_migrations_apply_once_in_order(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    with store.connect() as con:
        assert current_version(con) == MIGRATIONS[-1].version
        assert migrate(con) == []
        versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()]
    assert versions == [m.version for m in MIGRATIONS]


def test_rows_survive_a_later_failure_in_the_same_connection(tmp_path):
    store = Store(tmp_path / "flb.duckdb")
    call = ApiCall(datetime(2026, 1, 1, tzinfo=UTC), "GET", "/markets", 500, 3.0, "server_error")
    with pytest.raises(RuntimeError), store.connect() as con:
        append_api_calls(con, [call, call])
        raise RuntimeError("the scan broke after writing")
    with store.connect() as con:
        assert errors_since(con, datetime(2025, 1, 1, tzinfo=UTC)) == 2


def test_locked_file_fails_with_one_clear_error(tmp_path):
    path = tmp_path / "flb.duckdb"
    Store(path).connect().__enter__().close()
    holder = hold_lock(path, 10)
    try:
        started = time.monotonic()
        with (
            pytest.raises(StoreLocked, match="stayed locked by another process"),
            Store(path, lock_timeout_s=0.5).connect(),
        ):
            pass
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_lock_conflict_is_retried_until_the_holder_lets_go(tmp_path):
    path = tmp_path / "flb.duckdb"
    holder = hold_lock(path, 1.0)
    try:
        with Store(path, lock_timeout_s=20).connect() as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
    finally:
        holder.wait()


def test_decimal_money_is_stored_exactly(tmp_path):
    with Store(tmp_path / "flb.duckdb").connect() as con:
        con.execute("CREATE TABLE ledger (amount DECIMAL(18, 4))")
        append(con, "ledger", {"amount": money([Decimal("0.1"), Decimal("0.2"), Decimal("-0.3")])})
        assert con.execute("SELECT sum(amount) FROM ledger").fetchone() == (Decimal("0"),)
