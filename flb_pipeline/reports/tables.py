"""Markdown tables for Dagster metadata and reports (no extra dependency)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd


def markdown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-style table; an empty frame renders as `none`."""
    shown = frame if columns is None else frame[list(columns)]
    if shown.empty:
        return "none"
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(False)]
    return "\n".join([header, rule, *rows])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral() else str(value)
    return str(value)
