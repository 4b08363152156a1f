"""`flb halt` / `resume` / `status` against a real store file."""

from flb_pipeline.cli import main
from flb_pipeline.core import risk
from flb_pipeline.store import Store
from flb_pipeline.store.risk import risk_events


def test_halt_resume_and_status_round_trip(db_path, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    assert main(["halt", "--reason", "fed day"]) == 0
    with Store(db_path).connect() as con:
        halted = risk.active_halt(risk_events(con))
    assert halted is not None and halted.reason == "fed day"
    assert main(["status"]) == 0
    assert "manual halt: ON since" in capsys.readouterr().out
    assert main(["resume", "--reset", "slippage", "no_fills"]) == 0
    with Store(db_path).connect() as con:
        events = risk_events(con)
    assert risk.active_halt(events) is None
    assert risk.last_reset(events, "slippage") and risk.last_reset(events, "no_fills")
    assert main(["status"]) == 0
    assert "manual halt: off" in capsys.readouterr().out


def test_resume_refuses_unknown_switches(db_path, monkeypatch, capsys):
    monkeypatch.setenv("FLB_DB_PATH", str(db_path))
    assert main(["resume", "--reset", "stale_books"]) == 2
    assert "cannot reset ['stale_books']" in capsys.readouterr().err
