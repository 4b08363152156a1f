"""The daily summary as files: `exports/daily/<day>.json` and a Markdown + HTML report with
four plots under `reports/daily/<day>/`."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flb_pipeline.reports import plots
from flb_pipeline.reports.exports import jsonable, write_json
from flb_pipeline.reports.tables import markdown_rows

BUCKET_HEADER = ["bucket", "trades", "win rate", "predicted", "gross bps", "net bps", "net P&L"]
ATTRIBUTION_HEADER = ["key", "trades", "net P&L", "net bps"]


@dataclass(frozen=True)
class DailyReport:
    json_path: Path
    markdown_path: Path
    html_path: Path
    plots: dict[str, Path]
    markdown: str


def write_daily_report(
    document: dict[str, Any],
    cumulative: list[tuple[datetime, Decimal]],
    fill_slippage_bps: list[float],
    exports_dir: Path,
    reports_dir: Path,
) -> DailyReport:
    day = document["day"]
    folder = reports_dir / "daily" / day
    pictures = _plots(document, cumulative, fill_slippage_bps, folder)
    markdown = render_markdown(document, {name: path.name for name, path in pictures.items()})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(markdown)
    (folder / "report.html").write_text(_render_html(document, pictures))
    json_path = write_json(exports_dir / "daily" / f"{day}.json", document)
    return DailyReport(json_path, folder / "report.md", folder / "report.html", pictures, markdown)


def _plots(
    document: dict[str, Any],
    cumulative: list[tuple[datetime, Decimal]],
    fill_slippage_bps: list[float],
    folder: Path,
) -> dict[str, Path]:
    day = document["day"]
    buckets = document["price_buckets"]
    reliability = document["outcome_reliability"]
    return {
        "cumulative_pnl": plots.cumulative_pnl_plot(
            cumulative,
            folder / "cumulative_pnl.png",
            f"Cumulative net P&L, {day}",
            document["timezone"],
        ),
        "pnl_by_bucket": plots.pnl_by_bucket_plot(
            [f"{b.low_cents}-{b.high_cents}¢" for b in buckets],
            [float(b.net_pnl) for b in buckets],
            folder / "pnl_by_bucket.png",
            f"Net P&L by entry price, {day}",
        ),
        "outcome_reliability": plots.outcome_reliability_plot(
            [r.predicted for r in reliability],
            [r.realised for r in reliability],
            [r.trades for r in reliability],
            folder / "outcome_reliability.png",
            f"Realised vs predicted, {day}",
        ),
        "slippage": plots.slippage_histogram(
            fill_slippage_bps, folder / "slippage.png", f"Fill slippage, {day}"
        ),
    }


def summary_rows(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline figures, as (label, value) for terminals and reports."""
    trading = jsonable(document["trading"])
    health = jsonable(document["health"])
    edge = jsonable(document["edge"])
    api = health["api"]
    return [
        ("trades closed", str(trading["trades"])),
        ("win rate", _percent(trading["win_rate"])),
        ("net P&L ($)", f"{trading['net_pnl']:.2f}"),
        ("fees ($)", f"{trading['fees']:.2f}"),
        ("net bps", _number(trading["net_bps"])),
        ("expected vs realised ($)", f"{edge['expected_pnl']:.2f} / {edge['realised_pnl']:.2f}"),
        ("median fill slippage (bps)", _number(document["slippage"]["fills"].median_bps)),
        (
            "API p50 / p95 (ms)",
            f"{_number(api['p50_ms'])} / {_number(api['p95_ms'])}",
        ),
        ("API error rate", _percent(api["error_rate"])),
        ("scans per hour", _number(health["scans"]["scans_per_hour"])),
        ("order fill rate", _percent(health["orders"]["fill_rate"])),
    ]


def render_markdown(document: dict[str, Any], picture_names: dict[str, str]) -> str:
    lines = [f"# Daily summary {document['day']} ({document['timezone']})", ""]
    if document["note"]:
        lines += [f"_{document['note']}_", ""]
    lines.append(markdown_rows(["metric", "value"], summary_rows(document)))
    lines += ["", "## By entry price", ""]
    lines.append(markdown_rows(BUCKET_HEADER, bucket_rows(document)))
    for key in ("family", "group"):
        lines += ["", f"## Attribution by {key}", ""]
        lines.append(markdown_rows(ATTRIBUTION_HEADER, _attribution_rows(document, key)))
    lines += ["", "## Kill switches at the end of the day", ""]
    lines.append(markdown_rows(["switch", "passed", "reason"], _switch_rows(document)))
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in picture_names.items()]
    return "\n".join(lines) + "\n"


def _render_html(document: dict[str, Any], pictures: dict[str, Path]) -> str:
    sections = [
        f"<h1>Daily summary {html.escape(document['day'])}</h1>",
        f"<p><em>{html.escape(document['note'])}</em></p>" if document["note"] else "",
        _html_table(["metric", "value"], summary_rows(document)),
        "<h2>By entry price</h2>",
        _html_table(BUCKET_HEADER, bucket_rows(document)),
        "<h2>Kill switches</h2>",
        _html_table(["switch", "passed", "reason"], _switch_rows(document)),
        "<h2>Plots</h2>",
        *[f'<img alt="{name}" src="{path.name}">' for name, path in pictures.items()],
    ]
    return "<!doctype html><meta charset='utf-8'><body>" + "\n".join(sections) + "</body>"


def bucket_rows(document: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            f"{b.low_cents}-{b.high_cents}¢", str(b.trades), _percent(b.win_rate),
            _percent(b.predicted_win_rate), _number(b.gross_bps), _number(b.net_bps),
            f"{b.net_pnl:.2f}",
        )
        for b in document["price_buckets"]
    ]  # fmt: skip


def _attribution_rows(document: dict[str, Any], key: str) -> list[tuple[str, ...]]:
    return [
        (a.key, str(a.trades), f"{a.net_pnl:.2f}", _number(a.net_bps))
        for a in document["attribution"][key]
    ]


def _switch_rows(document: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (s["check_name"], "yes" if s["passed"] else "NO", s["reason"])
        for s in document["health"]["kill_switches"]
    ]


def _html_table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
