"""`flb` commands against a real store file: halt / resume / status, and the one-line
answers to a store, a setting or a port the command cannot use."""

import os
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flb_pipeline import definitions
from flb_pipeline.cli import build_parser, main
from flb_pipeline.core import risk
from flb_pipeline.defs import control
from flb_pipeline.exchange.embedded import is_simulator
from flb_pipeline.operations import sim_config_from
from flb_pipeline.store import Store
from flb_pipeline.store.decisions import latest_decided_scan
from flb_pipeline.store.risk import risk_events, verdicts_for
from flb_pipeline_tests.conftest import SIM_START, check_results, definitions_for, run_job
from flb_pipeline_tests.e2e.harness import free_port


def test_halt_resume_and_status_round_trip(db_path, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    monkeypatch.setenv("FLB_EXCHANGE", "demo")
    assert main(["halt", "--reason", "fed day"]) == 0
    store = Store(db_path)
    assert control.halt_state(store).reason == "fed day"
    with store.connect() as con:
        assert risk.active_halt(risk_events(con)).reason == "fed day"  # the audit trail
    assert main(["status"]) == 0
    assert "manual halt: ON since" in capsys.readouterr().out
    assert main(["resume", "--reset", "slippage", "no_fills"]) == 0
    assert control.halt_state(store) is None
    with store.connect() as con:
        events = risk_events(con)
    assert risk.active_halt(events) is None
    assert risk.last_reset(events, "slippage") and risk.last_reset(events, "no_fills")
    assert main(["status"]) == 0
    assert "manual halt: off" in capsys.readouterr().out


def test_halt_takes_effect_while_another_process_holds_the_database(db_path, monkeypatch):
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    monkeypatch.setenv("FLB_EXCHANGE", "demo")
    Store(db_path).connect().__enter__().close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, time
            con = duckdb.connect({str(db_path)!r})
            print("locked", flush=True)
            time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        locked_store = Store(db_path, lock_timeout_s=0.3)
        outcome = control.halt(locked_store, datetime.now(UTC), "while locked")
    finally:
        holder.kill()
        holder.wait()
    assert outcome.audited is False
    assert control.halt_state(Store(db_path)).reason == "while locked"


def test_resume_refuses_unknown_switches(db_path, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    assert main(["resume", "--reset", "stale_books"]) == 2
    assert "cannot reset ['stale_books']" in capsys.readouterr().err


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert "Traceback" not in captured.out + captured.err
    return line


def test_a_missing_directory_that_is_not_the_default_is_refused(tmp_path, monkeypatch, capsys):
    path = tmp_path / "typo" / "flb.duckdb"
    monkeypatch.setenv("FLB_DB_PATH", str(path))
    assert main(["status"]) == 1
    assert one_error_line(capsys) == (
        f"flb status: DuckDB file {path}: its directory {path.parent} does not exist"
    )
    monkeypatch.setenv("FLB_EXCHANGE", "demo")
    assert main(["halt"]) == 1  # a halt beside a store that cannot exist would halt nothing
    assert f"its directory {path.parent} does not exist" in one_error_line(capsys)
    assert not path.parent.exists()


def test_the_default_data_directory_is_created(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLB_DB_PATH", raising=False)
    assert main(["status"]) == 0
    assert "store: data/flb.duckdb" in capsys.readouterr().out
    assert (tmp_path / "data" / "flb.duckdb").is_file()


def test_a_directory_or_a_foreign_file_as_the_store_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(tmp_path))
    assert main(["report", "--day", "2026-03-02"]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"flb report: cannot open DuckDB file {tmp_path}: ")
    assert "Is a directory" in line
    notes = tmp_path / "notes.duckdb"
    notes.write_text("not a database\n" * 100)
    monkeypatch.setenv("FLB_DB_PATH", str(notes))
    assert main(["status"]) == 1
    assert "not a valid DuckDB database file" in one_error_line(capsys)
    assert notes.read_text() == "not a database\n" * 100


@pytest.mark.parametrize(
    ("variable", "value"),
    [("FLB_EXCHANGE", "prod"), ("FLB_EXCHANGE", "demo"),
     ("FLB_EXCHANGE_URL", "http://127.0.0.1:8765/trade-api/v2"), ("FLB_EXECUTION", "live")],
)  # fmt: skip
def test_demo_refuses_a_setting_it_cannot_honour(tmp_path, monkeypatch, capsys, variable, value):
    monkeypatch.chdir(tmp_path)
    for name in ("FLB_EXCHANGE", "FLB_EXCHANGE_URL", "FLB_EXECUTION", "FLB_DB_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(variable, value)
    assert main(["demo"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"flb demo: {variable}={value}: ")
    assert list(tmp_path.iterdir()) == []  # refused before touching the store or Dagster


def test_invalid_settings_are_one_line(monkeypatch, capsys):
    monkeypatch.setenv("FLB_SIM_PORT", "eighty")
    assert main(["status"]) == 2
    assert one_error_line(capsys) == "flb status: FLB_SIM_PORT='eighty' is not a TCP port (1-65535)"
    monkeypatch.delenv("FLB_SIM_PORT")
    monkeypatch.setenv("FLB_CLI_LOCK_WAIT_S", "soon")
    assert main(["status"]) == 2
    assert "FLB_CLI_LOCK_WAIT_S='soon' is not a number of seconds" in one_error_line(capsys)


def test_sim_starts_its_clock_where_it_is_told_and_refuses_a_bad_time(capsys):
    args = build_parser().parse_args(["sim", "--seed", "3", "--start", "2026-11-29T12:00:00Z"])
    assert sim_config_from(args).start_time == datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert sim_config_from(build_parser().parse_args(["sim"])).start_time is None
    assert main(["sim", "--start", "next tuesday"]) == 2
    assert one_error_line(capsys) == "flb sim: start_time is not ISO-8601: 'next tuesday'"


def test_ui_on_a_taken_port_is_refused_without_leaving_a_simulator(tmp_path):
    sim_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLB_")}
    env.update(FLB_SIM_PORT=str(sim_port), DAGSTER_HOME=str(tmp_path / "home"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ui_port = taken.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).parent / "flb"), "ui", "--port", str(ui_port)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"flb ui: port {ui_port} on 127.0.0.1 is already in use (Address already in use); "
        "choose another with --port"
    ]
    assert not is_simulator(f"http://127.0.0.1:{sim_port}")


def test_halt_is_stamped_with_the_embedded_simulators_clock(db_path, simulator, monkeypatch):
    """A demo session leaves its simulator running ahead of the wall clock; the halt's audit
    row must be on the time the checks use, the simulator's."""
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    monkeypatch.delenv("FLB_EXCHANGE", raising=False)
    monkeypatch.delenv("FLB_EXCHANGE_URL", raising=False)
    monkeypatch.setenv("FLB_SIM_PORT", str(simulator.port))
    assert main(["halt", "--reason", "fed day"]) == 0
    assert control.halt_state(Store(db_path)).event_ts == SIM_START


def test_a_reader_that_leaves_early_is_no_error(db_path):
    """`flb status | head -1`: the pipe closes before we write; that ends the command quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLB_")}
    env["FLB_DB_PATH"] = str(db_path)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flb"), "status"],
        stdout=write_end, stderr=subprocess.PIPE, env=env, text=True, timeout=60,
    )  # fmt: skip
    os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")


def status_rows(capsys) -> dict[str, list[str]]:
    """`flb status`'s kill-switch table: switch -> [verdict now, limit, ...]."""
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "kill switches evaluated now" in out
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.split()[:1] and line.split()[0] in risk.KILL_SWITCHES
    }
    assert sorted(rows) == sorted(risk.KILL_SWITCHES)
    return rows


def last_recorded_verdicts(db_path: Path) -> dict[str, bool]:
    with Store(db_path).connect() as con:
        scan_id = latest_decided_scan(con)
        return {name: v["passed"] for name, v in verdicts_for(con, scan_id).items()}


@pytest.fixture
def trading_deployment(trading_sim, trading_db, monkeypatch):
    """`flb` pointed at the trading store and its simulator (whose clock status reads)."""
    monkeypatch.setenv("FLB_DB_PATH", str(trading_db))
    monkeypatch.setenv("FLB_EXCHANGE", "sim")
    monkeypatch.setenv("FLB_EXCHANGE_URL", trading_sim.url)


def test_status_shows_each_switch_as_evaluated_now_not_as_the_last_cycle_recorded_it(
    trading_sim, trading_control, trading_db, trading_deployment, capsys
):
    """The last cycle ran under a 1 ms quote-age limit, so its stale_book verdict is FAIL.
    Judged now, with no order proposed, nothing is priced on a quote: stale_book passes."""
    tight = definitions_for(trading_sim.url, trading_db, risk={"max_quote_age_seconds": 0.001})
    assert check_results(run_job(tight, "trading_job"))["stale_book"] is False
    assert last_recorded_verdicts(trading_db)["stale_book"] is False
    trading_control.advance(60)  # the simulated clock moves on past the cycle's records
    rows = status_rows(capsys)
    assert rows["stale_book"][0] == "pass"
    assert {verdict for verdict, *_ in rows.values()} == {"pass"}


def test_status_judges_with_the_limits_the_deployments_definitions_configure(
    trading_sim, trading_control, trading_db, trading_deployment, monkeypatch, capsys
):
    """A deployment whose RiskResource allows no failed API call. The last cycle passed
    error_burst; one failed call since fails it now (the default limit of 10 would pass it),
    and once that call is older than the 60-minute window it passes again."""
    deployment = definitions_for(trading_sim.url, trading_db, risk={"max_api_errors": 0})
    monkeypatch.setattr(definitions, "defs", deployment)
    assert check_results(run_job(deployment, "trading_job"))["error_burst"] is True
    trading_control.faults(error_rate=1.0)
    assert not run_job(deployment, "reconcile_job").success  # one call failed after retries
    trading_control.faults(error_rate=0.0)
    assert last_recorded_verdicts(trading_db)["error_burst"] is True
    trading_control.advance(60)
    verdict, limit, *_ = status_rows(capsys)["error_burst"]
    assert (verdict, limit) == ("FAIL", "0")
    trading_control.advance(61 * 60)
    verdict, limit, *_ = status_rows(capsys)["error_burst"]
    assert (verdict, limit) == ("pass", "0")


def test_soak_refuses_a_duration_it_cannot_run(tmp_path, capsys):
    assert main(["soak", "--minutes", "0", "--dir", str(tmp_path / "soak")]) == 2
    assert capsys.readouterr().err == "flb soak: --minutes must be > 0, not 0\n"
    assert not (tmp_path / "soak").exists()
