"""Realised against expected net return per contract, by entry-price bucket and horizon.

The expectation of each trade is handed in (from the model's win probability at entry, or,
in a simulated world, from the true probability): q × contracts − cost − fees. The realised
figure gets a day/event bootstrap CI, but only where the sample can show its own spread: a
favourite bucket loses rarely, and a sample without enough losing events resamples to a CI
of almost zero width around "every trade won", which says nothing about the next trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flb_pipeline.core.ledger import WIN, ClosedTrade
from flb_pipeline.core.overfitting import BootstrapInterval, day_event_bootstrap

MIN_LOSING_EVENTS = 5


@dataclass(frozen=True)
class BucketRealisation:
    low_cents: int
    horizon: str
    trades: int
    events: int
    losing_events: int
    realised: float
    expected: float
    ci: BootstrapInterval | None
    note: str


def realisation_by_bucket(
    trades: Sequence[ClosedTrade],
    expected_pnl: Sequence[float],
    horizons: Sequence[str],
    events: Sequence[str],
    days: Sequence[str],
    *,
    resamples: int = 2_000,
    seed: int = 0,
) -> list[BucketRealisation]:
    """Per (5¢ entry bucket, horizon label) cell with trades, net P&L per contract realised
    and expected; all sequences are aligned with `trades`."""
    if not trades:
        return []
    contracts = np.array([float(t.contracts) for t in trades])
    realised = np.array([float(t.net_pnl) for t in trades])
    expected = np.asarray(expected_pnl, dtype=float)
    won = np.array([t.result == WIN for t in trades])
    low = np.array([min(int(t.entry_price * 20), 19) * 5 for t in trades])
    horizon = np.asarray(horizons, dtype=object)
    event = np.asarray(events, dtype=object)
    day = np.asarray(days, dtype=object)
    cells = []
    for cell_low, cell_horizon in sorted(
        {(int(a), str(b)) for a, b in zip(low, horizon, strict=True)}
    ):
        rows = (low == cell_low) & (horizon == cell_horizon)
        losing = len(set(event[rows & ~won].tolist()))
        ci = None
        note = f"fewer than {MIN_LOSING_EVENTS} losing events: no CI"
        if losing >= MIN_LOSING_EVENTS:
            ci = day_event_bootstrap(
                realised[rows], day[rows], event[rows], denominator=contracts[rows],
                resamples=resamples, seed=seed,
            )  # fmt: skip
            note = "" if ci is not None else "too few events for a CI"
        cells.append(
            BucketRealisation(
                low_cents=cell_low,
                horizon=cell_horizon,
                trades=int(rows.sum()),
                events=len(set(event[rows].tolist())),
                losing_events=losing,
                realised=float(realised[rows].sum() / contracts[rows].sum()),
                expected=float(expected[rows].sum() / contracts[rows].sum()),
                ci=ci,
                note=note,
            )
        )
    return cells
