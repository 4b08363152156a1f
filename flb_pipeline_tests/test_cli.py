"""`flb halt` / `resume` / `status` against a real store file."""

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

from flb_pipeline.cli import main
from flb_pipeline.core import risk
from flb_pipeline.defs import control
from flb_pipeline.store import Store
from flb_pipeline.store.risk import risk_events


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
