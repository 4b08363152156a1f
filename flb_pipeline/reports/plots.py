"""Plots, always written to PNG files with labelled axes; never shown interactively."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from flb_pipeline.core.calibration import CalibrationReport


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
    return _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
