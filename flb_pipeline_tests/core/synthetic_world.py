"""Seeded synthetic settled history with a known truth, for the model's statistical tests.

Each event has mutually exclusive bracket markets (exactly one wins); its true bracket
probabilities at every horizon are exact (a martingale: the probability at one horizon is the
expected probability at the next), and prices are those truths distorted by a known
calibration `logit(q) = a + (b(h) + β_f)·logit(p) + o_f`. So the
truth of every point is known, points of one event share one outcome, and the same market is
priced at several horizons: the structure clustered standard errors exist for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from flb_pipeline.core.calibration import CalibrationSample, time_split

DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0


def flat_slope(seconds: np.ndarray) -> np.ndarray:
    return np.ones_like(np.asarray(seconds, dtype=float))


def evidence_slope(seconds: np.ndarray) -> np.ndarray:
    """About 1.0 within the last hour, rising with log horizon to about 1.3 beyond a month
    (Le 2026, as summarised in the project's evidence notes)."""
    rise = np.log(np.asarray(seconds, dtype=float) / HOUR) / np.log(30 * DAY / HOUR)
    return 1.0 + 0.3 * np.clip(rise, 0.0, 1.0)


@dataclass(frozen=True)
class World:
    """The calibration the world's prices carry, and its shape."""

    slope: Callable[[np.ndarray], np.ndarray]
    family_slopes: dict[str, float]
    family_offsets: dict[str, float] = field(default_factory=dict)
    intercept: float = 0.0
    horizons_s: tuple[float, ...] = (
        5 * MINUTE,
        30 * MINUTE,
        3 * HOUR,
        12 * HOUR,
        3 * DAY,
        14 * DAY,
    )
    events: int = 2_000
    start: tuple[float, ...] = (0.8, 0.12, 0.08)
    start_concentration: float = 40.0
    step_concentration: float = 400.0
    half_spreads: tuple[float, ...] = (0.005, 0.01, 0.015)

    def true_slope(self, seconds: np.ndarray, family: np.ndarray) -> np.ndarray:
        shift = np.array([self.family_slopes[f] for f in family.tolist()])
        return self.slope(seconds) + shift

    def true_offset(self, family: np.ndarray) -> np.ndarray:
        return np.array([self.family_offsets.get(f, 0.0) for f in family.tolist()])


@dataclass(frozen=True, eq=False)
class History:
    """The settled points and each point's true YES probability."""

    sample: CalibrationSample
    truth: np.ndarray

    def split(
        self, test_fraction: float
    ) -> tuple[CalibrationSample, CalibrationSample, np.ndarray]:
        """`time_split` of the sample, and the truth of the test points (points are generated
        in close-time order, so the test points are the last ones)."""
        train, test = time_split(self.sample, test_fraction)
        return train, test, self.truth[len(train) :]


def history(rng: np.random.Generator, world: World) -> History:
    """All events of `world` at every horizon, vectorised; close times follow event order.

    An event's true bracket probabilities start (at the farthest horizon) around
    `world.start` and move toward the close as a Dirichlet martingale (each step is drawn
    from Dirichlet(κ·previous), whose mean is the previous vector); the winning bracket is
    drawn from the last one. So `P(win | truth at any horizon) = truth` holds exactly.
    """
    horizons = np.sort(np.asarray(world.horizons_s, dtype=float))[::-1]  # far to near
    n, k = world.events, len(world.start)
    truth = np.empty((n, len(horizons), k))
    step = rng.gamma(np.broadcast_to(world.start_concentration * np.asarray(world.start), (n, k)))
    truth[:, 0] = step / step.sum(axis=1, keepdims=True)
    for j in range(1, len(horizons)):
        step = rng.gamma(world.step_concentration * truth[:, j - 1])
        truth[:, j] = step / step.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(truth[:, -1], axis=1)
    winner = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    won = np.arange(k)[None, :] == winner[:, None]
    families = np.array(sorted(world.family_slopes), dtype=object)
    event_family = families[rng.integers(0, len(families), n)]
    shape = truth.shape
    event = np.broadcast_to(np.arange(n)[:, None, None], shape).ravel()
    seconds = np.broadcast_to(horizons[None, :, None], shape).ravel()
    family = event_family[event]
    q = np.clip(truth.ravel(), 1e-9, 1 - 1e-9)
    eta = logit(q) - world.intercept - world.true_offset(family)
    price = expit(eta / world.true_slope(seconds, family))
    keep = (price >= 0.02) & (price <= 0.98)
    half_spread = rng.choice(np.asarray(world.half_spreads), len(price))
    outcome = np.broadcast_to(won[:, None, :], shape).ravel().astype(np.int8)
    rows = np.flatnonzero(keep)
    sample = CalibrationSample(
        price=price[rows],
        outcome=outcome[rows],
        family=family[rows],
        close_ts=event[rows].astype(float),
        event=event[rows].astype(object),
        seconds_to_close=seconds[rows],
        yes_bid=np.round(price[rows] - half_spread[rows], 3),
        yes_ask=np.round(price[rows] + half_spread[rows], 3),
    )
    return History(sample, q[rows])
