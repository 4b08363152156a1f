import numpy as np
import pytest

from flb_pipeline.core.families import heuristic_group_key
from flb_pipeline.core.grouping import (
    METHOD_CORRELATION,
    METHOD_HEURISTIC,
    GroupingMarket,
    PriceHistory,
    build_groups,
    group_summary,
)

N_SCANS = 60


def market(ticker: str, event_ticker: str, key: str) -> GroupingMarket:
    return GroupingMarket(ticker, event_ticker, key)


def brackets(event_ticker: str, key: str, n: int = 3) -> list[GroupingMarket]:
    return [market(f"{event_ticker}-B{40 + i}", event_ticker, key) for i in range(n)]


def random_walks(moves: np.ndarray) -> np.ndarray:
    """YES mids starting at 50¢ that follow the given per-scan moves."""
    return 0.5 + np.cumsum(moves, axis=0)


def history_of(markets: list[GroupingMarket], mids: np.ndarray) -> PriceHistory:
    return PriceHistory([m.ticker for m in markets], mids)


@pytest.fixture
def index_markets() -> list[GroupingMarket]:
    """Two equity-index series driven by one factor and an unrelated weather series."""
    return [
        market("KXINX-25JAN01-T6000", "KXINX-25JAN01", "financials_kxinx"),
        market("KXNASDAQ-25JAN01-T21000", "KXNASDAQ-25JAN01", "financials_kxnasdaq"),
        market("KXHIGHNY-25JAN01-B40", "KXHIGHNY-25JAN01", "weather_newyork"),
    ]


def factor_mids(rng: np.random.Generator, signs=(1.0, 1.0)) -> np.ndarray:
    """Mids of `index_markets`: the first two load on one factor (with the given signs),
    the third moves independently."""
    factor, weather = rng.normal(0, 0.01, (2, N_SCANS))
    idiosyncratic = rng.normal(0, 0.003, (N_SCANS, 3))
    moves = np.outer(factor, [*signs, 0.0]) + np.outer(weather, [0.0, 0.0, 1.0]) + idiosyncratic
    return random_walks(moves)


# --- event and heuristic layers -----------------------------------------------------------------


def test_brackets_of_one_event_share_a_group():
    markets = brackets("KXHIGHNY-25JAN01", "weather_newyork") + brackets(
        "KXHIGHCHI-25JAN01", "weather_illinois"
    )

    grouping = build_groups(markets)

    assert grouping.group_of == {
        **dict.fromkeys([m.ticker for m in markets[:3]], "weather_newyork"),
        **dict.fromkeys([m.ticker for m in markets[3:]], "weather_illinois"),
    }
    assert (grouping.method, grouping.merges, grouping.clustered_markets) == (
        METHOD_HEURISTIC,
        [],
        0,
    )


def test_los_angeles_and_san_francisco_share_weather_california():
    la_key = heuristic_group_key("weather", "KXHIGHLAX", ("Los Angeles", "California"))
    sf_key = heuristic_group_key("weather", "KXHIGHSF", ("California",))
    ny_key = heuristic_group_key("weather", "KXHIGHNY", ("New York",))
    markets = (
        brackets("KXHIGHLAX-25JAN01", la_key)
        + brackets("KXHIGHSF-25JAN01", sf_key)
        + brackets("KXHIGHNY-25JAN01", ny_key)
    )

    group_of = build_groups(markets).group_of

    assert {group_of[m.ticker] for m in markets[:6]} == {"weather_california"}
    assert {group_of[m.ticker] for m in markets[6:]} == {"weather_newyork"}


def test_an_event_spanning_two_keys_joins_them_with_a_readable_id():
    markets = [
        market("EV-1", "EV", "politics_senate"),
        market("EV-2", "EV", "politics_house"),
        market("OTHER-1", "OTHER", "politics_governor"),
    ]

    group_of = build_groups(markets).group_of

    assert group_of == {
        "EV-1": "politics_house+politics_senate",
        "EV-2": "politics_house+politics_senate",
        "OTHER-1": "politics_governor",
    }


# --- correlation layer --------------------------------------------------------------------------


def test_correlated_series_merge_and_an_independent_one_does_not(index_markets):
    mids = factor_mids(np.random.default_rng(5))

    grouping = build_groups(index_markets, history_of(index_markets, mids))

    merged = "financials_kxinx+financials_kxnasdaq"
    assert list(grouping.group_of.values()) == [merged, merged, "weather_newyork"]
    assert grouping.method == METHOD_CORRELATION
    assert grouping.clustered_markets == 3
    [merge] = grouping.merges
    assert merge.group_keys == ("financials_kxinx", "financials_kxnasdaq")
    changes = np.diff(mids, axis=0)
    assert merge.mean_abs_correlation == pytest.approx(np.corrcoef(changes[:, :2].T)[0, 1])
    assert merge.mean_abs_correlation > 0.8


def test_anticorrelated_series_merge_too(index_markets):
    mids = factor_mids(np.random.default_rng(6), signs=(1.0, -1.0))

    grouping = build_groups(index_markets, history_of(index_markets, mids))

    assert grouping.group_of[index_markets[0].ticker] == grouping.group_of[index_markets[1].ticker]
    assert grouping.merges[0].mean_abs_correlation > 0.8


@pytest.mark.filterwarnings("error")
def test_nan_gaps_are_tolerated_and_correlation_uses_common_scans(index_markets):
    rng = np.random.default_rng(8)
    mids = factor_mids(rng)
    mids[rng.uniform(size=mids.shape) < 0.15] = np.nan
    mids[:5, 1] = np.nan  # a market listed after the first scans

    grouping = build_groups(index_markets, history_of(index_markets, mids))

    assert grouping.group_of[index_markets[0].ticker] == grouping.group_of[index_markets[1].ticker]
    assert grouping.group_of[index_markets[2].ticker] == "weather_newyork"
    changes = np.diff(mids[:, :2], axis=0)
    common = np.isfinite(changes).all(axis=1)
    expected = np.corrcoef(changes[common].T)[0, 1]
    assert grouping.merges[0].mean_abs_correlation == pytest.approx(expected)


def test_too_few_observations_skip_clustering_and_say_so(index_markets):
    mids = factor_mids(np.random.default_rng(5))[:15]

    grouping = build_groups(index_markets, history_of(index_markets, mids))

    assert grouping.method == METHOD_HEURISTIC
    assert (grouping.merges, grouping.clustered_markets) == ([], 0)
    assert len(set(grouping.group_of.values())) == 3


def test_flat_drifting_and_unlisted_markets_stay_out_of_clustering(index_markets):
    markets = [*index_markets, market("KXBTC-25JAN01-T100", "KXBTC-25JAN01", "crypto_kxbtc")]
    mids = np.column_stack([factor_mids(np.random.default_rng(5)), np.zeros(N_SCANS)])
    mids[:, 2] = 0.97  # a favourite whose quote never moved
    mids[:, 3] = 0.30 + 0.01 * np.arange(N_SCANS) / 2  # steady drift: changes vary by rounding
    history = PriceHistory(
        [m.ticker for m in markets] + ["DELISTED"], np.column_stack([mids, mids[:, 0]])
    )

    grouping = build_groups(markets, history)

    assert grouping.clustered_markets == 2
    assert set(grouping.group_of) == {m.ticker for m in markets}
    assert grouping.group_of[markets[3].ticker] == "crypto_kxbtc"


def test_only_the_most_volatile_markets_are_clustered_when_capped():
    rng = np.random.default_rng(9)
    markets = [  # the quiet pair sorts first, so only volatility can pick the loud pair
        market("A-QUIET", "QA", "crypto_a"),
        market("B-QUIET", "QB", "crypto_b"),
        market("C-LOUD", "LC", "crypto_c"),
        market("D-LOUD", "LD", "crypto_d"),
    ]
    quiet, loud = rng.normal(0, 0.002, N_SCANS), rng.normal(0, 0.02, N_SCANS)
    moves = np.column_stack([quiet, quiet, loud, loud]) + rng.normal(0, 1e-4, (N_SCANS, 4))

    grouping = build_groups(
        markets, history_of(markets, random_walks(moves)), max_clustered_markets=2
    )

    assert grouping.clustered_markets == 2
    assert [m.group_keys for m in grouping.merges] == [("crypto_c", "crypto_d")]
    assert grouping.group_of["A-QUIET"] == "crypto_a"


def test_group_ids_do_not_depend_on_market_order(index_markets):
    markets = index_markets + brackets("KXHIGHLAX-25JAN01", "weather_california")
    rng = np.random.default_rng(12)
    mids = np.column_stack([factor_mids(rng), random_walks(rng.normal(0, 0.01, (N_SCANS, 3)))])
    order = np.random.default_rng(13).permutation(len(markets))

    forward = build_groups(markets, history_of(markets, mids))
    shuffled_markets = [markets[i] for i in order]
    shuffled = build_groups(shuffled_markets, history_of(shuffled_markets, mids[:, order]))

    assert shuffled.group_of == forward.group_of
    assert shuffled.merges == forward.merges


def test_group_summary_lists_largest_groups_first():
    markets = (
        brackets("KXHIGHNY-25JAN01", "weather_newyork", n=2)
        + brackets("KXHIGHLAX-25JAN01", "weather_california", n=4)
        + brackets("KXHIGHCHI-25JAN01", "weather_illinois", n=2)
    )

    summary = group_summary(build_groups(markets))

    assert summary == [("weather_california", 4), ("weather_illinois", 2), ("weather_newyork", 2)]


# --- validation ---------------------------------------------------------------------------------


def test_inputs_that_would_corrupt_groups_are_rejected(index_markets):
    with pytest.raises(ValueError, match="twice"):
        build_groups(index_markets + index_markets[:1])
    with pytest.raises(ValueError, match="heuristic group key"):
        market("X-1", "X", "")
    with pytest.raises(ValueError, match="n_scans"):
        PriceHistory(["A", "B"], np.zeros((5, 3)))
    with pytest.raises(ValueError, match="correlation_threshold"):
        build_groups(index_markets, correlation_threshold=0.0)


def test_chance_correlations_among_many_independent_markets_do_not_merge():
    """1,500 independent random walks over 60 scans: hundreds of pairs exceed |r| = 0.5 by
    chance, none survives the family-wise significance test, so no group is merged."""
    rng = np.random.default_rng(3)
    n_markets, n_scans = 1500, 60
    markets = [GroupingMarket(f"T{i}", f"E{i}", f"k{i}") for i in range(n_markets)]
    mids = 0.5 + np.cumsum(rng.normal(0, 0.01, (n_scans, n_markets)), axis=0)
    mids[rng.random(mids.shape) < 0.1] = np.nan
    grouping = build_groups(markets, PriceHistory([m.ticker for m in markets], mids))
    assert grouping.method == METHOD_CORRELATION
    assert grouping.merges == []
    assert len(set(grouping.group_of.values())) == n_markets
