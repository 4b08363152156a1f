"""The threshold search's report: Markdown, HTML and JSON with four plots under
`reports/backtests/<run_id>/`, and the summary rows the CLI prints and Dagster shows."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flb_pipeline.core import metrics
from flb_pipeline.core.calibration import HorizonBuckets
from flb_pipeline.core.realisation import BucketRealisation, realisation_by_bucket
from flb_pipeline.core.search_verdict import CellScore, SearchVerdict, trading_day
from flb_pipeline.core.threshold_search import CellResult, GridCell
from flb_pipeline.reports import backtest_plots
from flb_pipeline.reports.exports import write_json
from flb_pipeline.reports.tables import markdown_rows

SCORE_HEADER = [
    "cell", "thresholds", "trades", "net P&L ($)", "net return", "Sharpe", "Sortino",
    "max DD", "hit rate", "turnover", "utilisation",
]  # fmt: skip
TOP_CELLS = 10


@dataclass(frozen=True)
class BacktestReport:
    markdown_path: Path
    html_path: Path
    json_path: Path
    plots: dict[str, Path]
    summary: list[tuple[str, str]]
    score_rows: list[tuple[str, ...]]


def write_backtest_report(
    folder: Path,
    *,
    run_id: str,
    window: tuple[datetime, datetime],
    cells: Sequence[GridCell],
    verdict: SearchVerdict,
    results: Sequence[CellResult],
    markets: Mapping[str, tuple[str, float]],
    skipped: Mapping[str, int],
    starting_capital: float,
) -> BacktestReport:
    """`markets`: ticker -> (event, close time) of the replayed markets."""
    labels = {cell.cell_id: cell.label() for cell in cells}
    chosen = verdict.chosen_cell
    realisation = _realisation(results, chosen, markets)
    pictures = _plots(folder, cells, verdict, results, realisation, starting_capital)
    summary = summary_rows(run_id, window, verdict, labels)
    scores = score_rows(verdict, labels)
    chosen_results = sorted((r for r in results if r.cell_id == chosen), key=lambda r: r.fold)
    days = daily_rows(chosen_results)
    pauses = [pause for r in chosen_results for pause in r.pauses]
    document = {
        "run_id": run_id,
        "range": {"start": window[0], "end": window[1]},
        "verdict": verdict,
        "labels": labels,
        "realised_vs_expected": realisation,
        "chosen_by_day": days,
        "chosen_pauses": pauses,
        "skipped": dict(skipped),
    }
    folder.mkdir(parents=True, exist_ok=True)
    json_path = write_json(folder / "report.json", document)
    markdown = _markdown(
        run_id, summary, scores, verdict, skipped, realisation, pictures, days, pauses
    )
    (folder / "report.md").write_text(markdown)
    (folder / "report.html").write_text(_html(run_id, summary, scores, verdict, pictures))
    return BacktestReport(
        folder / "report.md", folder / "report.html", json_path, pictures, summary, scores
    )


def summary_rows(
    run_id: str, window: tuple[datetime, datetime], verdict: SearchVerdict, labels: dict[str, str]
) -> list[tuple[str, str]]:
    oos, defaults, ci = verdict.out_of_sample, verdict.defaults_out_of_sample, verdict.oos_return_ci
    return [
        ("run", run_id),
        ("range (UTC)", f"{window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d} (end excluded)"),
        ("chosen cell", f"{verdict.chosen_cell}: {labels[verdict.chosen_cell]}"),
        ("adopted", "yes" if verdict.adopted else "no"),
        ("verdict", verdict.reason),
        ("walk-forward net P&L ($)", f"{oos.net_pnl:.2f} over {oos.trades} trades"),
        ("defaults, same folds ($)", f"{defaults.net_pnl:.2f} over {defaults.trades} trades"),
        ("out-of-sample return 95% CI",
         "-" if ci is None else f"{ci.estimate:.3%} [{ci.low:.3%}, {ci.high:.3%}]"),
        ("PBO", _number(verdict.pbo, ".3f")),
        ("deflated Sharpe ratio", _number(verdict.deflated_sharpe, ".3f")),
    ]  # fmt: skip


def score_rows(verdict: SearchVerdict, labels: dict[str, str]) -> list[tuple[str, ...]]:
    """The defaults, the chosen cell, the walk-forward record and the best cells."""
    ranked = sorted(verdict.scores.values(), key=lambda s: (-(s.sharpe or 0.0), s.cell_id))
    shown = list(dict.fromkeys([verdict.defaults_cell, verdict.chosen_cell]))
    shown += [s.cell_id for s in ranked if s.cell_id not in shown][: TOP_CELLS - len(shown)]
    rows = [_score_row(verdict.scores[cell], labels[cell]) for cell in shown]
    rows.append(_score_row(verdict.out_of_sample, "walk-forward record (out of sample)"))
    return rows


def _score_row(score: CellScore, label: str) -> tuple[str, ...]:
    return (
        score.cell_id, label, str(score.trades), f"{score.net_pnl:.2f}",
        f"{score.net_return:.2%}", _number(score.sharpe, ".2f"), _number(score.sortino, ".2f"),
        f"{score.max_drawdown:.2%}", _number(score.hit_rate, ".1%"), f"{score.turnover:.2f}",
        f"{score.capital_utilisation:.1%}",
    )  # fmt: skip


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _realisation(
    results: Sequence[CellResult], cell_id: str, markets: Mapping[str, tuple[str, float]]
) -> list[BucketRealisation]:
    """The chosen cell's trades, realised against the model's expectation at entry, by
    entry bucket and time to close at entry."""
    trades = [t for r in results if r.cell_id == cell_id for t in r.trades]
    buckets = HorizonBuckets()
    labels = buckets.labels()
    horizons = [
        labels[int(buckets.index(markets[t.ticker][1] - t.opened_at.timestamp()))] for t in trades
    ]
    expected = [
        (t.win_probability or 0.0) * float(t.contracts) - float(t.cost + t.fees) for t in trades
    ]
    events = [markets[t.ticker][0] for t in trades]
    return realisation_by_bucket(
        trades, expected, horizons, events, [trading_day(t) for t in trades]
    )


def _plots(
    folder: Path,
    cells: Sequence[GridCell],
    verdict: SearchVerdict,
    results: Sequence[CellResult],
    realisation: list[BucketRealisation],
    capital: float,
) -> dict[str, Path]:
    def pnl(cell_id: str) -> list[float]:
        folds = sorted((r for r in results if r.cell_id == cell_id), key=lambda r: r.fold)
        return [p for r in folds for p in r.period_pnl]

    curves = {f"defaults ({verdict.defaults_cell})": pnl(verdict.defaults_cell)}
    curves[f"chosen ({verdict.chosen_cell})"] = pnl(verdict.chosen_cell)
    returns = {cell_id: score.net_return for cell_id, score in verdict.scores.items()}
    return {
        "equity_drawdown": backtest_plots.equity_and_drawdown(
            curves, capital, folder / "equity_drawdown.png", "Capital and drawdown, every fold"
        ),
        "grid_heatmap": backtest_plots.grid_heatmap(
            cells, returns, folder / "grid_heatmap.png", "Net return per cell, all folds"
        ),
        "pbo_logits": backtest_plots.pbo_histogram(
            verdict.pbo_logits,
            verdict.pbo,
            folder / "pbo_logits.png",
            "In-sample best, out-of-sample rank (CSCV)",
        ),
        "realised_vs_expected": backtest_plots.realised_vs_expected(
            realisation,
            folder / "realised_vs_expected.png",
            f"Chosen cell {verdict.chosen_cell}: realised vs expected",
        ),
    }


def daily_rows(results: Sequence[CellResult]) -> list[dict[str, object]]:
    """The chosen cell's trades by the New York day they closed, with the daily summary's
    own figures (`core.metrics`): trades, win rate, fees, net P&L and bps, and what the model
    expected of them."""
    by_day: dict[str, list] = {}
    for trade in (t for r in results for t in r.trades):
        by_day.setdefault(trading_day(trade), []).append(trade)
    rows = []
    for day, trades in sorted(by_day.items()):
        summary, edge = metrics.trading_summary(trades), metrics.edge_realisation(trades)
        rows.append({"day": day, "trading": summary, "edge": edge})
    return rows


def _markdown(
    run_id: str,
    summary: list[tuple[str, str]],
    scores: list[tuple[str, ...]],
    verdict: SearchVerdict,
    skipped: Mapping[str, int],
    realisation: list[BucketRealisation],
    pictures: dict[str, Path],
    days: list[dict[str, object]],
    pauses: list[tuple[str, str, str]],
) -> str:
    lines = [f"# Threshold search {run_id}", "", markdown_rows(["figure", "value"], summary)]
    lines += ["", "## Adoption tests", ""]
    lines.append(markdown_rows(["test", "passed", "detail"], [
        (t.name, "yes" if t.passed else "NO", t.detail) for t in verdict.tests
    ]))  # fmt: skip
    lines += ["", "## Cells", "", markdown_rows(SCORE_HEADER, scores)]
    lines += ["", "## Realised vs expected, chosen cell", ""]
    lines.append(markdown_rows(
        ["bucket", "horizon", "trades", "events", "realised ¢", "expected ¢", "95% CI ¢"],
        [(f"{c.low_cents}-{c.low_cents + 5}¢", c.horizon, str(c.trades), str(c.events),
          f"{c.realised * 100:.2f}", f"{c.expected * 100:.2f}",
          f"[{c.ci.low * 100:.2f}, {c.ci.high * 100:.2f}]" if c.ci else c.note)
         for c in realisation],
    ))  # fmt: skip
    lines += ["", "## Chosen cell by day (New York)", ""]
    lines.append(markdown_rows(
        ["day", "trades", "win rate", "fees ($)", "net P&L ($)", "net bps", "expected ($)"],
        [(str(d["day"]), str(d["trading"].trades), _number(d["trading"].win_rate, ".1%"),
          f"{d['trading'].fees:.2f}", f"{d['trading'].net_pnl:.2f}",
          _number(d["trading"].net_bps, ".1f"), f"{d['edge'].expected_pnl:.2f}")
         for d in days],
    ))  # fmt: skip
    lines += ["", "## Kill-switch pauses, chosen cell", ""]
    lines.append(markdown_rows(["switch", "from", "until"], [list(p) for p in pauses]))
    lines += ["", "## Skipped", ""]
    lines.append(markdown_rows(["reason", "count"], [(k, str(v)) for k, v in skipped.items()]))
    lines += ["", "## Plots", ""] + [f"![{name}]({p.name})" for name, p in pictures.items()]
    return "\n".join(lines) + "\n"


def _html(
    run_id: str,
    summary: list[tuple[str, str]],
    scores: list[tuple[str, ...]],
    verdict: SearchVerdict,
    pictures: dict[str, Path],
) -> str:
    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    tests = [(t.name, "yes" if t.passed else "NO", t.detail) for t in verdict.tests]
    sections = [
        f"<h1>Threshold search {html.escape(run_id)}</h1>",
        table(["figure", "value"], summary),
        "<h2>Adoption tests</h2>", table(["test", "passed", "detail"], tests),
        "<h2>Cells</h2>", table(SCORE_HEADER, scores),
        "<h2>Plots</h2>",
        *[f'<img alt="{name}" src="{path.name}">' for name, path in pictures.items()],
    ]  # fmt: skip
    return "<!doctype html><meta charset='utf-8'><body>" + "\n".join(sections) + "</body>"
