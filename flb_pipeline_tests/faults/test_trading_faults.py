"""Fault campaign on the path that sends orders: stale quotes, a halt mid-cycle, a scan whose
quality checks failed, a killed run, and the live-trading gate. Each fault must end in no
order on doubt, nothing lost, and one clear reason."""

import logging
import shutil
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from flb_pipeline.defs import control
from flb_pipeline.defs.runs import WORKER_PID_TAG
from flb_pipeline.defs.sensors import trading_job_sensor
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.demo import QUIET
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import check_results, definitions_for, run_job
from flb_pipeline_tests.defs import crash_cycle
from flb_pipeline_tests.defs.test_trading import exchange_orders
from flb_pipeline_tests.faults.hostile import log_lines

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POST_ORDERS = crash_cycle.HOLD_POSTS


def orders(db: Path) -> list[tuple]:
    with Store(db).connect() as con:
        return con.execute(
            "SELECT client_order_id, status, reject_reason, quote_ts, sent_at FROM orders"
            " ORDER BY created_at, client_order_id"
        ).fetchall()


def test_an_order_whose_quote_aged_while_earlier_orders_were_sent_is_dropped(
    trading_sim, trading_control, trading_db
):
    """Orders go out one per POST and each POST is held 2.5 s: the checks pass on fresh
    quotes, but by the third order the quote it is priced on is older than the 5 s limit, so
    it and the rest are dropped (with batches, the gate runs before each batch)."""
    defs = definitions_for(
        trading_sim.url, trading_db, risk={"max_quote_age_seconds": 5.0},
        trading={"max_orders_per_cycle": 6, "order_batch_size": 1},
    )  # fmt: skip
    trading_control.faults(latency_ms=2500, **POST_ORDERS)
    instance = dg.DagsterInstance.ephemeral()
    result = run_job(defs, "trading_job", instance=instance)
    trading_control.faults(latency_ms=0)
    assert check_results(result)["stale_book"] is True
    rows = orders(trading_db)
    sent = [row for row in rows if row[1] != "dropped"]
    dropped = [row for row in rows if row[1] == "dropped"]
    assert sent and dropped and len(rows) >= 4
    for _, _, _, quote_ts, sent_at in sent:
        assert (sent_at - quote_ts).total_seconds() <= 5.0
    for _, _, reason, _, _ in dropped:
        age = float(reason.split("its quote is ", 1)[1].split("s old", 1)[0])
        assert age > 5.0 and reason.endswith("older than 5s")
    assert {o["client_order_id"] for o in exchange_orders(trading_control)} == {r[0] for r in sent}
    (line,) = log_lines(instance, result.run_id, logging.WARNING)
    assert line.startswith(f"{len(dropped)} order(s) dropped, not sent: ")
    assert all(reason in line for _, _, reason, _, _ in dropped)


def test_a_halt_written_while_a_cycle_is_sending_stops_its_remaining_orders(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(
        trading_sim.url, trading_db,
        trading={"max_orders_per_cycle": 6, "order_batch_size": 1},
    )  # fmt: skip
    trading_control.faults(latency_ms=1500, **POST_ORDERS)
    instance = dg.DagsterInstance.ephemeral()
    finished: list[dg.ExecuteInProcessResult] = []
    cycle = threading.Thread(
        target=lambda: finished.append(run_job(defs, "trading_job", instance=instance))
    )
    cycle.start()
    deadline = time.monotonic() + 60
    while not exchange_orders(trading_control) and time.monotonic() < deadline:
        time.sleep(0.05)
    control.halt(Store(trading_db), datetime.now(UTC), "fed day")
    cycle.join(120)
    trading_control.faults(latency_ms=0)
    rows = orders(trading_db)
    at_exchange = exchange_orders(trading_control)
    dropped = [row for row in rows if row[1] == "dropped"]
    assert len(at_exchange) <= 2 < len(rows)  # the order in flight when the halt landed
    assert len(dropped) == len(rows) - len(at_exchange)
    assert all("manual halt" in reason and "fed day" in reason for _, _, reason, _, _ in dropped)
    (line,) = log_lines(instance, finished[0].run_id, logging.WARNING)
    assert line.startswith(f"{len(dropped)} order(s) dropped, not sent: manual halt since ")
    assert "fed day" in line


def test_materialising_the_decision_path_alone_refuses_a_scan_that_failed_its_checks(
    trading_sim, trading_control, trading_db, tmp_path
):
    """A UI "Materialize" of trade_candidates and what follows, on a scan with crossed books:
    the blocking checks are not in that run, so the decision path must refuse by itself."""
    defs = definitions_for(trading_sim.url, trading_db)
    trading = defs.resolve_job_def("trading_job")
    upstream = [dg.AssetKey(a) for a in ("market_snapshots", "correlation_groups")]
    downstream = [
        dg.AssetKey(name)
        for name in ("trade_candidates", "order_submissions", "positions", "closed_trades")
    ]
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:

        def materialise(job: dg.JobDefinition, selection: list[dg.AssetKey] | None = None):
            return job.execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False,
                asset_selection=selection,
            )  # fmt: skip

        assert materialise(trading, [*upstream, dg.AssetKey("strategy_thresholds")]).success
        trading_control.faults(crossed_book_rate=0.05)
        scan = materialise(defs.resolve_job_def("snapshot_job"))
        assert check_results(scan)["no_crossed_books"] is False
        trading_control.faults(crossed_book_rate=0.0)
        decided = materialise(trading, downstream)
    assert not decided.success
    (failure,) = [e for e in decided.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "refusing to trade on scan" in message and "no_crossed_books" in message
    assert "crossed book" in message
    assert exchange_orders(trading_control) == [] and orders(trading_db) == []


def test_a_killed_run_frees_its_pool_slot_and_the_next_cycle_reconciles_one_order(
    trading_sim, trading_control, trading_db, tmp_path, monkeypatch
):
    """kill -9 mid-order leaves the run STARTED, and a started run holds the duckdb pool
    (held per run: the run queue starts no other run that needs it). The trading sensor
    fails the dead run, with one line naming the cause, so the next cycle can run, and that
    cycle resolves the killed run's order: one order per client_order_id."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # pool limit 1
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("FLB_EXCHANGE_URL", trading_sim.url)
    monkeypatch.setenv("FLB_DB_PATH", str(trading_db))
    crash_cycle.kill_mid_order(trading_control, lambda: bool(exchange_orders(trading_control)))
    instance = dg.DagsterInstance.get()
    (killed,) = instance.get_runs()
    assert killed.status == dg.DagsterRunStatus.STARTED and killed.tags[WORKER_PID_TAG]
    assert killed.run_op_concurrency.all_pools == {DUCKDB_POOL}
    assert instance.get_concurrency_config().pool_config.pool_granularity.value == "run"

    request = trading_job_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    (line,) = [e.message for e in instance.all_logs(killed.run_id) if e.level >= logging.WARNING]
    pid = killed.tags[WORKER_PID_TAG]
    assert line.startswith(f"lost its worker (pid {pid} is no longer alive)")

    finished: list[dg.ExecuteInProcessResult] = []
    defs = definitions_for(trading_sim.url, trading_db, trading={"max_orders_per_cycle": 1})
    runner = threading.Thread(
        target=lambda: finished.append(run_job(defs, "trading_job", instance=instance)),
        daemon=True,
    )
    runner.start()
    runner.join(60)
    assert finished and finished[0].success, "the next cycle did not complete within a minute"
    at_exchange = exchange_orders(trading_control)
    ids = [o["client_order_id"] for o in at_exchange]
    assert len(ids) == len(set(ids)) == 2  # the killed cycle's order and the new one
    local = {cid: status for cid, status, *_ in orders(trading_db)}
    assert local == {o["client_order_id"]: o["status"] for o in at_exchange}


class Tripwire:
    """A loopback listener standing in for production that counts every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/trade-api/v2"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.mark.parametrize("job", ["trading_job", "snapshot_job", "history_job", "reconcile_job"])
def test_live_trading_without_consent_is_refused_before_any_connection(
    job, trading_db, monkeypatch
):
    monkeypatch.delenv("FLB_LIVE_TRADING", raising=False)
    monkeypatch.delenv("KALSHI_API_KEY_ID", raising=False)
    production = Tripwire()
    try:
        defs = definitions_for(
            production.url, trading_db, exchange={"exchange": "prod", "execution": "exchange"}
        )
        result = run_job(defs, job)
    finally:
        production.close()
    assert not result.success
    assert production.connections == 0
    (failure, *_) = [e for e in result.all_events if e.is_step_failure]
    assert "FLB_LIVE_TRADING=I_UNDERSTAND" in failure.step_failure_data.error.message
