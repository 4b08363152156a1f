"""Correlation groups (DESIGN §5.3): which open markets are really one bet.

Sizing caps the worst-case loss per group, so markets that win or lose together must share a
group or the cap is an illusion. Three layers, each of which only ever merges:

1. all markets of one event are one group: its brackets are mutually exclusive, so their
   outcomes are perfectly dependent;
2. events with the same heuristic key (`weather_california` holds Los Angeles and San
   Francisco) share a driver;
3. markets whose recent price changes are correlated (|corr| at or above the threshold, average
   linkage) merge their groups, catching links that no heuristic names. Only correlations
   that are significant across all pairs tested (Fisher z, Bonferroni) count: among a
   thousand independent markets, chance alone gives hundreds of pairs above 0.5 over a few
   dozen scans, and average linkage would chain them into one giant group.

A group id is the sorted heuristic keys of the group joined with "+": readable in the UI and
stable from scan to scan whenever the membership is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from scipy.special import ndtri

from flb_pipeline.core.families import family_in_series, heuristic_group_key
from flb_pipeline.core.records import SeriesInfo

METHOD_HEURISTIC = "event+heuristic"
METHOD_CORRELATION = "event+heuristic+correlation"
GROUP_ID_SEPARATOR = "+"
_RELATIVE_VARIANCE_FLOOR = 1e-9


@dataclass(frozen=True)
class ScanGroups:
    """One scan's correlation groups, by market and by event."""

    by_ticker: Mapping[str, str]
    by_event: Mapping[str, str]

    def of_market(self, ticker: str, event_ticker: str) -> str:
        return self.by_ticker.get(ticker) or self.by_event.get(event_ticker) or event_ticker

    def of_holding(self, ticker: str, event_ticker: str, bought_in: str) -> str:
        """Where a lot or resting order counts against the group cap.

        Today's group of its market; once the market has left the scan (closed, awaiting
        settlement), the group it was bought in; a lot no order of ours explains (a
        restored database, a manual trade) belongs to its event's group, and failing all
        else to its event alone.
        """
        event = event_ticker or ticker
        return self.by_ticker.get(ticker) or bought_in or self.by_event.get(event) or event


@dataclass(frozen=True, slots=True)
class GroupingMarket:
    """An open market and the labels the event and heuristic layers group it by."""

    ticker: str
    event_ticker: str
    heuristic_key: str

    def __post_init__(self) -> None:
        if not self.heuristic_key:
            raise ValueError(f"market {self.ticker} has no heuristic group key")


def grouping_markets(
    rows: Sequence[tuple[str, str, str, str]], series: Mapping[str, SeriesInfo]
) -> list[GroupingMarket]:
    """(ticker, event, series, category) rows labelled with their heuristic key."""
    markets = []
    for ticker, event_ticker, series_ticker, category in rows:
        info = series.get(series_ticker)
        family = family_in_series(category, info)
        key = heuristic_group_key(family, series_ticker, info.tags if info else ())
        markets.append(GroupingMarket(ticker, event_ticker, key))
    return markets


@dataclass(frozen=True, slots=True, eq=False)
class PriceHistory:
    """YES mid prices of recent scans, oldest first: `mids[scan, i]` is market `tickers[i]`,
    NaN where a scan has no quote for it."""

    tickers: Sequence[str]
    mids: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "mids", np.asarray(self.mids, dtype=float))
        if self.mids.ndim != 2 or self.mids.shape[1] != len(self.tickers):
            raise ValueError(f"mids {self.mids.shape} must be [n_scans, {len(self.tickers)}]")
        if len(set(self.tickers)) != len(self.tickers):
            raise ValueError("price history lists a ticker twice")


@dataclass(frozen=True, slots=True)
class GroupMerge:
    """Groups joined by the correlation layer, with the evidence: the mean |correlation| of
    the price changes of the market pairs that straddled them."""

    group_keys: tuple[str, ...]
    mean_abs_correlation: float


@dataclass(frozen=True, slots=True)
class Grouping:
    """Group id of every market, which layers ran, and what the correlation layer merged."""

    group_of: dict[str, str]
    method: str
    merges: list[GroupMerge]
    clustered_markets: int


def build_groups(
    markets: Sequence[GroupingMarket],
    history: PriceHistory | None = None,
    *,
    correlation_threshold: float = 0.5,
    min_observations: int = 20,
    max_clustered_markets: int = 1500,
    significance: float = 0.01,
) -> Grouping:
    """Group open markets by event, heuristic key and, given price history, correlation.

    Only markets with at least `min_observations` price changes that vary take part
    in clustering (the `max_clustered_markets` most volatile, which bounds the quadratic cost).
    With fewer than two such markets the correlation layer is skipped and `method` says so.
    """
    if not 0 < correlation_threshold <= 1:
        raise ValueError(f"correlation_threshold must lie in (0, 1], got {correlation_threshold}")
    key_of = _heuristic_keys(markets)
    keys = sorted(set(key_of.values()))
    event_links = _event_links(markets)
    base_group_of = _group_ids(keys, event_links)
    tickers, changes = _clusterable_changes(
        markets, history, min_observations, max_clustered_markets
    )
    if len(tickers) < 2:
        return Grouping(_by_ticker(key_of, base_group_of), METHOD_HEURISTIC, [], 0)
    market_group = [base_group_of[key_of[ticker]] for ticker in tickers]
    spanning, merges = _correlation_merges(
        changes, np.array(market_group), correlation_threshold, min_observations, significance
    )
    cluster_links = [
        (key_of[tickers[members[0]]], key_of[tickers[other]])
        for members in spanning
        for other in members[1:]
    ]
    final_group_of = _group_ids(keys, event_links + cluster_links)
    return Grouping(_by_ticker(key_of, final_group_of), METHOD_CORRELATION, merges, len(tickers))


def group_summary(grouping: Grouping) -> list[tuple[str, int]]:
    """(group id, number of markets), largest group first, for UI metadata."""
    sizes = Counter(grouping.group_of.values())
    return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))


# --- event and heuristic layers -----------------------------------------------------------------


def _heuristic_keys(markets: Sequence[GroupingMarket]) -> dict[str, str]:
    key_of = {market.ticker: market.heuristic_key for market in markets}
    if len(key_of) != len(markets):
        raise ValueError("a market ticker appears twice")
    return key_of


def _event_links(markets: Sequence[GroupingMarket]) -> list[tuple[str, str]]:
    """Tie together the heuristic keys inside each event, should an event ever span several."""
    keys_of_event: dict[str, set[str]] = defaultdict(set)
    for market in markets:
        keys_of_event[market.event_ticker].add(market.heuristic_key)
    links: list[tuple[str, str]] = []
    for keys in keys_of_event.values():
        first, *others = sorted(keys)
        links.extend((first, other) for other in others)
    return links


def _group_ids(keys: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """The group id of every heuristic key: its connected component's sorted keys joined.

    `keys` must be sorted; the ids then do not depend on the order markets arrive in.
    """
    index = {key: i for i, key in enumerate(keys)}
    rows = [index[a] for a, _ in links]
    cols = [index[b] for _, b in links]
    graph = coo_matrix((np.ones(len(links)), (rows, cols)), shape=(len(keys), len(keys)))
    component = connected_components(graph, directed=False)[1].tolist()
    members: dict[int, list[str]] = defaultdict(list)
    for key, label in zip(keys, component, strict=True):
        members[label].append(key)
    return {
        key: GROUP_ID_SEPARATOR.join(members[label])
        for key, label in zip(keys, component, strict=True)
    }


def _by_ticker(key_of: dict[str, str], group_of_key: dict[str, str]) -> dict[str, str]:
    return {ticker: group_of_key[key] for ticker, key in key_of.items()}


# --- correlation layer --------------------------------------------------------------------------


def _correlation_merges(
    changes: np.ndarray,
    market_group: np.ndarray,
    threshold: float,
    min_observations: int,
    significance: float,
) -> tuple[list[np.ndarray], list[GroupMerge]]:
    """The clusters of co-moving markets that straddle groups (as column indices of
    `changes`), and a merge record for each, ordered by the groups they join."""
    correlation, overlap = _pairwise_correlation(changes, min_observations)
    correlation = _significant_only(correlation, overlap, significance)
    spanning = _clusters_spanning_groups(_cluster_labels(correlation, threshold), market_group)
    merges = [_merge_record(members, market_group, correlation) for members in spanning]
    return spanning, sorted(merges, key=lambda merge: merge.group_keys)


def _clusterable_changes(
    markets: Sequence[GroupingMarket],
    history: PriceHistory | None,
    min_observations: int,
    max_markets: int,
) -> tuple[list[str], np.ndarray]:
    """Tickers (sorted, for order-independent clustering) and their price changes
    `[n_changes, n_tickers]` for the markets with enough changes that actually vary."""
    if history is None:
        return [], np.empty((0, 0))
    column_of = {ticker: i for i, ticker in enumerate(history.tickers)}
    tickers = sorted(market.ticker for market in markets if market.ticker in column_of)
    changes = np.diff(history.mids[:, [column_of[ticker] for ticker in tickers]], axis=0)
    observed = np.isfinite(changes)
    count = observed.sum(axis=0)
    variance, mean_square = _masked_moments(changes, observed, count)
    varies = variance > _RELATIVE_VARIANCE_FLOOR * mean_square
    eligible = np.flatnonzero((count >= min_observations) & varies)
    most_volatile_first = eligible[np.argsort(-variance[eligible], kind="stable")]
    keep = np.sort(most_volatile_first[:max_markets])
    return [tickers[i] for i in keep], changes[:, keep]


def _masked_moments(
    changes: np.ndarray, observed: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-market variance and mean square of the observed changes (0 where none are).

    The mean square scales the "does it move" test: a steady one-cent drift has a variance of
    pure rounding noise, which must not count as movement.
    """
    n = np.maximum(count, 1)
    filled = np.where(observed, changes, 0.0)
    mean = filled.sum(axis=0) / n
    variance = (np.where(observed, changes - mean, 0.0) ** 2).sum(axis=0) / n
    return variance, (filled**2).sum(axis=0) / n


def _pairwise_correlation(changes: np.ndarray, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of every pair over the scans where both have a change.

    All pairs at once with matrix products. A pair with fewer than `min_overlap` common
    changes, or either side constant over them (up to rounding, which would otherwise turn
    0/0 into an arbitrary correlation), gets 0: no evidence of co-movement.
    """
    observed = np.isfinite(changes).astype(float)
    values = np.where(observed > 0, changes, 0.0)
    overlap = observed.T @ observed
    sums = values.T @ observed  # sums[i, j]: sum of market i's changes where j is observed
    squares = (values**2).T @ observed
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = values.T @ values - sums * sums.T / overlap
        variance = squares - sums**2 / overlap
        correlation = covariance / np.sqrt(variance * variance.T)
    varies = variance > _RELATIVE_VARIANCE_FLOOR * squares
    usable = (overlap >= min_overlap) & varies & varies.T
    return np.where(usable, np.clip(correlation, -1.0, 1.0), 0.0), overlap


def _significant_only(
    correlation: np.ndarray, overlap: np.ndarray, significance: float
) -> np.ndarray:
    """Zero every correlation that chance explains at family-wise level `significance`.

    Fisher z = atanh(r)·sqrt(n - 3) is standard normal for independent series; the critical
    value is Bonferroni-corrected for the number of pairs tested.
    """
    n_markets = correlation.shape[0]
    pairs = max(1, n_markets * (n_markets - 1) // 2)
    critical = ndtri(1 - significance / (2 * pairs))
    with np.errstate(divide="ignore", invalid="ignore"):
        fisher = np.arctanh(np.clip(correlation, -0.999999, 0.999999))
        z = np.abs(fisher) * np.sqrt(np.maximum(overlap - 3, 0))
    return np.where(z >= critical, correlation, 0.0)


def _cluster_labels(correlation: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clusters at distance 1 - |corr| <= 1 - threshold.

    |corr|: a market and its complement-like twin (one up when the other is down) are one bet.
    """
    distance = 1.0 - np.abs(correlation)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return fcluster(tree, t=1.0 - threshold, criterion="distance")


def _clusters_spanning_groups(labels: np.ndarray, market_group: np.ndarray) -> list[np.ndarray]:
    """Member indices of each cluster that holds markets of more than one group."""
    by_label = np.argsort(labels, kind="stable")
    boundaries = np.flatnonzero(np.diff(labels[by_label])) + 1
    clusters = np.split(by_label, boundaries)
    return [members for members in clusters if len(set(market_group[members])) > 1]


def _merge_record(
    members: np.ndarray, market_group: np.ndarray, correlation: np.ndarray
) -> GroupMerge:
    groups = market_group[members]
    straddling = groups[:, None] != groups[None, :]
    pair_correlation = np.abs(correlation[np.ix_(members, members)])
    return GroupMerge(
        group_keys=tuple(sorted(set(groups.tolist()))),
        mean_abs_correlation=float(pair_correlation[straddling].mean()),
    )
