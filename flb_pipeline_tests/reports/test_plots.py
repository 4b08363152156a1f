"""The daily report's time axis reads in the trading day's zone, New York, and says so."""

from datetime import UTC, datetime
from decimal import Decimal

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from flb_pipeline.reports.plots import cumulative_pnl_figure

NEW_YORK = "America/New_York"


def test_cumulative_pnl_axis_is_new_york_time_and_labelled_with_the_zone():
    """Trades closing at 16:00 and 16:03 UTC on 2026-03-02 (EST, UTC-5) close at 11:00 and
    11:03 in New York; on 2026-07-01 (EDT, UTC-4) 16:00 UTC is 12:00."""
    points = [
        (datetime(2026, 3, 2, 16, 0, tzinfo=UTC), Decimal("4.66")),
        (datetime(2026, 3, 2, 16, 3, tzinfo=UTC), Decimal("3.85")),
    ]
    figure = cumulative_pnl_figure(points, "Cumulative net P&L, 2026-03-02", NEW_YORK)
    try:
        (axes,) = figure.axes
        assert axes.get_xlabel() == "closing time (America/New_York)"
        label = axes.xaxis.get_major_formatter()
        assert [label(mdates.date2num(t)) for t, _ in points] == ["11:00", "11:03"]
        assert label(mdates.date2num(datetime(2026, 7, 1, 16, 0, tzinfo=UTC))) == "12:00"
        figure.canvas.draw()
        ticks = [tick.get_text() for tick in axes.get_xticklabels() if tick.get_text()]
        assert ticks and all(text.startswith("11:0") for text in ticks), ticks
    finally:
        plt.close(figure)
