"""The threshold search's plots, written to PNG with labelled axes (see `reports.plots`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from flb_pipeline.core.performance import drawdown_curve
from flb_pipeline.core.realisation import BucketRealisation
from flb_pipeline.core.threshold_search import GridCell
from flb_pipeline.reports.plots import plt, save_figure

NO_DATA = "nothing traded"


def equity_and_drawdown(
    curves: dict[str, Sequence[float]], capital: float, path: Path, title: str
) -> Path:
    """Capital over the P&L periods of every fold, one line per curve, and its drawdown."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for name, pnl in curves.items():
        equity = capital + np.cumsum(np.asarray(pnl, dtype=float))
        top.plot(np.arange(1, len(equity) + 1), equity, label=name)
        bottom.plot(np.arange(1, len(equity) + 1), -drawdown_curve(equity), label=name)
    top.axhline(capital, color="grey", linewidth=0.8)
    top.set_ylabel("capital ($)")
    top.legend(loc="upper left")
    top.set_title(title)
    bottom.set_ylabel("drawdown ($)")
    bottom.set_xlabel("P&L period (folds back to back)")
    return save_figure(figure, path)


def grid_heatmap(
    cells: Sequence[GridCell], values: dict[str, float], path: Path, title: str
) -> Path:
    """Net return per cell: minimum favourite price × minimum edge, one panel per order
    style, time-to-close window and Kelly fraction (cells without a figure left blank)."""
    panels = sorted({(c.order_style, c.thresholds.min_seconds_to_close,
                      c.thresholds.max_seconds_to_close, c.thresholds.kelly_fraction)
                     for c in cells})  # fmt: skip
    prices = sorted({c.thresholds.min_favourite_price for c in cells})
    edges = sorted({c.thresholds.min_edge for c in cells})
    figure, axes_list = plt.subplots(
        len(panels), 1, figsize=(7, 1.2 + 1.8 * len(panels)), squeeze=False
    )
    limit = max((abs(v) for v in values.values()), default=0.0) or 0.01
    for axes, panel in zip(axes_list[:, 0], panels, strict=True):
        grid = np.full((len(prices), len(edges)), np.nan)
        for cell in cells:
            t = cell.thresholds
            key = (cell.order_style, t.min_seconds_to_close, t.max_seconds_to_close,
                   t.kelly_fraction)  # fmt: skip
            if key == panel and cell.cell_id in values:
                row, column = prices.index(t.min_favourite_price), edges.index(t.min_edge)
                grid[row, column] = values[cell.cell_id] * 100
        style, low, high, kelly = panel
        image = axes.imshow(grid, cmap="RdYlGn", vmin=-limit * 100, vmax=limit * 100,
                            aspect="auto", origin="lower")  # fmt: skip
        axes.set_yticks(range(len(prices)), [f"{p}" for p in prices])
        axes.set_xticks(range(len(edges)), [f"{e:g}" for e in edges])
        axes.set_ylabel(f"{style} {low:g}-{high:g}s\nkelly {kelly:g}\nmin price")
        figure.colorbar(image, ax=axes, label="net return (%)")
    axes_list[-1, 0].set_xlabel("minimum edge ($/contract)")
    axes_list[0, 0].set_title(title)
    return save_figure(figure, path)


def pbo_histogram(logits: Sequence[float], pbo: float | None, path: Path, title: str) -> Path:
    """The out-of-sample rank logits of the in-sample best over CSCV splits: mass left of 0
    is the probability of backtest overfitting."""
    figure, axes = plt.subplots(figsize=(7, 4))
    finite = [x for x in logits if np.isfinite(x)]
    if finite:
        axes.hist(finite, bins=30, color="tab:blue")
        axes.axvline(0, color="tab:red", linewidth=1.5, label=f"PBO = {pbo:.3f}")
        axes.legend(loc="upper right")
    else:
        axes.text(0.5, 0.5, "PBO not computable", ha="center", va="center",
                  transform=axes.transAxes)  # fmt: skip
    axes.set_xlabel("logit of the in-sample best's out-of-sample rank")
    axes.set_ylabel("splits")
    axes.set_title(title)
    return save_figure(figure, path)


def realised_vs_expected(cells: Sequence[BucketRealisation], path: Path, title: str) -> Path:
    """Net P&L per contract by entry bucket, realised (95% CI where defined) against what the
    model expected at entry, one series per horizon."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    horizons = sorted({cell.horizon for cell in cells})
    for offset, horizon in enumerate(horizons):
        rows = [cell for cell in cells if cell.horizon == horizon]
        x = np.array([cell.low_cents + 1 + offset * 0.6 for cell in rows])
        axes.scatter(x, [cell.expected * 100 for cell in rows], marker="x",
                     label=f"expected, {horizon}")  # fmt: skip
        realised = np.array([cell.realised * 100 for cell in rows])
        low = np.array([(cell.realised - cell.ci.low) * 100 if cell.ci else 0 for cell in rows])
        high = np.array([(cell.ci.high - cell.realised) * 100 if cell.ci else 0 for cell in rows])
        axes.errorbar(x, realised, yerr=[low, high], fmt="o", capsize=3,
                      label=f"realised, {horizon}")  # fmt: skip
    if not cells:
        axes.text(0.5, 0.5, NO_DATA, ha="center", va="center", transform=axes.transAxes)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xlabel("entry price bucket (¢, low edge)")
    axes.set_ylabel("net P&L per contract (¢)")
    axes.set_title(title)
    if cells:
        axes.legend(loc="best", fontsize="small")
    return save_figure(figure, path)
