"""Markdown tables for Dagster metadata and reports (no extra dependency)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd


def markdown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-style table of `frame`'s values; an empty frame renders as `none`."""
    shown = frame if columns is None else frame[list(columns)]
    cells = [[_cell(value) for value in row] for row in shown.itertuples(False)]
    return markdown_rows(list(shown.columns), cells)


def markdown_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-style table of cells already formatted; no rows renders as `none`."""
    if not rows:
        return "none"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral() else str(value)
    return str(value)
