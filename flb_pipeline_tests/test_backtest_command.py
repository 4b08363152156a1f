"""`flb backtest` on a real store file: the summary, the report, the JSON, and refusals."""

import json
import shutil
from pathlib import Path

import pytest

from flb_pipeline.cli import main

SHORT = ["--folds", "2", "--refit-hours", "6", "--period-hours", "1"]


@pytest.fixture
def history_db(calibrated_template: Path, tmp_path: Path, monkeypatch) -> Path:
    """Settled history (with its series and fee schedules) without a single scan."""
    db = tmp_path / "flb.duckdb"
    shutil.copyfile(calibrated_template, db)
    monkeypatch.setenv("FLB_DB_PATH", str(db))
    return db


def test_backtest_prints_the_summary_and_where_the_report_is(history_db, capsys):
    target = history_db.parent / "verdict.json"
    code = main(["backtest", "--from", "2026-03-01", "--to", "2026-03-02", *SHORT,
                 "--json", str(target)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "chosen cell" in out and "walk-forward record (out of sample)" in out
    report = Path(out.split("report: ")[1].split(" ")[0])
    assert report.read_text().startswith("# Threshold search cli-")
    assert {p.name for p in report.parent.glob("*.png")} == {
        "equity_drawdown.png", "grid_heatmap.png", "pbo_logits.png", "realised_vs_expected.png",
    }  # fmt: skip
    document = json.loads(target.read_text())
    assert document["verdict"]["adopted"] is False
    # Rows the screens could not price are said and counted, never made up.
    assert document["skipped"]["model_not_tradeable_here"] > 1000
    assert "skipped: " in out and "model_not_tradeable_here" in out
    assert document["verdict"]["out_of_sample"]["sharpe"] is None


def test_an_empty_range_reports_nothing_made_up(history_db, capsys):
    assert main(["backtest", "--from", "2025-01-01", "--to", "2025-01-02", *SHORT]) == 0
    out = capsys.readouterr().out
    assert "history: 0 settled markets, 0 candles" in out
    assert "too few out-of-sample events for a CI" in out and "nan" not in out.lower()


def test_a_grid_over_the_time_budget_is_refused_with_the_estimate(history_db, capsys):
    code = main(["backtest", "--from", "2026-03-01", "--to", "2026-03-02", "--grid", "full",
                 "--max-seconds", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "refused before starting: 450 cells x 4 folds" in err and "time budget 1 s" in err


def test_dates_must_be_days(history_db, capsys):
    assert main(["backtest", "--from", "March", "--to", "2026-03-02"]) == 2
    assert "--from and --to must be YYYY-MM-DD" in capsys.readouterr().err
