"""Plots, always written to PNG files with labelled axes; never shown interactively."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from flb_pipeline.core.gate import BUCKET_COUNT, BUCKET_WIDTH_CENTS, CalibrationReport


def reliability_diagram(report: CalibrationReport, path: Path, title: str) -> Path:
    """Observed YES win rate (Wilson 95% CI) and model prediction per 5¢ price bucket."""
    buckets = [b for b in report.reliability if b.n > 0]
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="price = probability")
    prices = [b.mean_price for b in buckets]
    rates = [b.win_rate for b in buckets]
    errors = [
        [rate - b.ci_low for rate, b in zip(rates, buckets, strict=True)],
        [b.ci_high - rate for rate, b in zip(rates, buckets, strict=True)],
    ]
    axes.errorbar(prices, rates, yerr=errors, fmt="o", capsize=3, label="observed (95% CI)")
    axes.plot(prices, [b.model_prediction for b in buckets], marker="x", label="model")
    axes.set_xlabel("market YES price (bucket mean, $)")
    axes.set_ylabel("YES win rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.legend(loc="upper left")
    return save_figure(figure, path)


EDGE_COLOUR_LIMIT_CENTS = 5.0


def edge_heatmap(report: CalibrationReport, path: Path, title: str) -> Path:
    """Held-out net edge (¢ per contract) of buying the favourite at the ask after the taker
    fee, per YES-price bucket × horizon bucket, one panel per family; tradeable cells are
    boxed, cells without held-out data left blank."""
    families = sorted({cell.family for cell in report.cells}) or ["no held-out data"]
    labels = list(report.horizon_labels)
    figure, panels = plt.subplots(
        len(families), 1, figsize=(10, 1.2 + 0.45 * len(labels) * len(families)), squeeze=False
    )
    for axes, family in zip(panels[:, 0], families, strict=True):
        grid = np.full((len(labels), BUCKET_COUNT), np.nan)
        for cell in report.cells:
            if cell.family == family:
                column = cell.bucket_low_cents // BUCKET_WIDTH_CENTS
                grid[cell.horizon, column] = cell.realised_edge * 100
                if cell.tradeable:
                    axes.add_patch(_box(column, cell.horizon))
        limit = EDGE_COLOUR_LIMIT_CENTS
        image = axes.imshow(
            grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto", origin="lower"
        )
        axes.set_yticks(range(len(labels)), labels)
        axes.set_xticks(
            range(BUCKET_COUNT), [f"{k * BUCKET_WIDTH_CENTS}" for k in range(BUCKET_COUNT)]
        )
        axes.set_ylabel(f"{family}\ntime to close")
        figure.colorbar(image, ax=axes, label="net edge (¢/contract)")
    panels[-1, 0].set_xlabel("YES price bucket (¢, low edge; below 50 the favourite is NO)")
    panels[0, 0].set_title(f"{title}; boxed: tradeable")
    return save_figure(figure, path)


def _box(column: int, row: int) -> plt.Rectangle:
    return plt.Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", lw=2)


def save_figure(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def cumulative_pnl_plot(
    points: list[tuple[datetime, Decimal]], path: Path, title: str, timezone: str
) -> Path:
    return save_figure(cumulative_pnl_figure(points, title, timezone), path)


def cumulative_pnl_figure(
    points: list[tuple[datetime, Decimal]], title: str, timezone: str
) -> plt.Figure:
    """Cumulative net P&L over the day, its time axis in the trading day's own zone (a New
    York day read in UTC starts at 04:00 or 05:00), labelled with that zone."""
    zone = ZoneInfo(timezone)
    figure, axes = plt.subplots(figsize=(7, 4))
    if points:
        axes.step([t.astimezone(zone) for t, _ in points], [float(p) for _, p in points],
                  where="post")  # fmt: skip
        axes.axhline(0, color="grey", linewidth=0.8)
        axes.xaxis.set_major_locator(mdates.AutoDateLocator(tz=zone))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=zone))
    else:
        _no_data(axes)
    axes.set_xlabel(f"closing time ({timezone})")
    axes.set_ylabel("cumulative net P&L ($)")
    axes.set_title(title)
    figure.autofmt_xdate()
    return figure


def pnl_by_bucket_plot(labels: list[str], net_pnl: list[float], path: Path, title: str) -> Path:
    figure, axes = plt.subplots(figsize=(7, 4))
    if labels:
        colours = ["tab:green" if value >= 0 else "tab:red" for value in net_pnl]
        axes.bar(labels, net_pnl, color=colours)
        axes.axhline(0, color="grey", linewidth=0.8)
    else:
        _no_data(axes)
    axes.set_xlabel("entry price bucket")
    axes.set_ylabel("net P&L ($)")
    axes.set_title(title)
    return save_figure(figure, path)


def outcome_reliability_plot(
    predicted: list[float], realised: list[float], trades: list[int], path: Path, title: str
) -> Path:
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    if predicted:
        axes.scatter(predicted, realised, s=[20 + 5 * n for n in trades], label="trades")
    else:
        _no_data(axes)
    axes.set_xlabel("predicted win probability at entry")
    axes.set_ylabel("realised win rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.legend(loc="upper left")
    return save_figure(figure, path)


def slippage_histogram(slippages_bps: list[float], path: Path, title: str) -> Path:
    figure, axes = plt.subplots(figsize=(7, 4))
    if slippages_bps:
        axes.hist(slippages_bps, bins=20, color="tab:blue")
    else:
        _no_data(axes)
    axes.set_xlabel("slippage vs decision price (bps, positive = worse)")
    axes.set_ylabel("fills")
    axes.set_title(title)
    return save_figure(figure, path)


def _no_data(axes: plt.Axes) -> None:
    axes.text(0.5, 0.5, "no data for this day", ha="center", va="center", transform=axes.transAxes)
