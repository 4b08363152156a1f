import pytest

from flb_pipeline.core.modes import (
    LIVE_TRADING_CONSENT,
    TradingRefused,
    resolve_trading_mode,
    targets_production,
)

KEYS = {"has_key_id": True, "has_private_key": True}
PROD_URL = "https://api.elections.kalshi.com/trade-api/v2"


def mode(exchange, execution=None, *, url=None, consent=None, **keys):
    return resolve_trading_mode(
        exchange, execution, base_url=url, live_trading=consent, **{**KEYS, **keys}
    )


def test_defaults_exchange_on_the_simulator_paper_elsewhere():
    assert mode("sim").execution == "exchange" and not mode("sim").is_live
    assert mode("demo").execution == "paper" and mode("prod").execution == "paper"
    assert not mode("prod").is_live  # paper on prod reads prices, sends nothing


@pytest.mark.parametrize(
    ("consent", "keys", "missing"),
    [
        (None, {}, ["FLB_LIVE_TRADING=I_UNDERSTAND"]),
        (LIVE_TRADING_CONSENT, {"has_key_id": False}, ["KALSHI_API_KEY_ID"]),
        (None, {"has_key_id": False, "has_private_key": False},
         ["FLB_LIVE_TRADING=I_UNDERSTAND", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH"]),
    ],
)  # fmt: skip
def test_live_trading_refusal_names_what_is_missing(consent, keys, missing):
    with pytest.raises(TradingRefused) as refused:
        mode("prod", "exchange", consent=consent, **keys)
    message = str(refused.value)
    assert all(item in message for item in missing)
    positions = [message.index(item) for item in missing]
    assert positions == sorted(positions)


def test_live_trading_with_consent_and_keys():
    assert mode("prod", "exchange", consent=LIVE_TRADING_CONSENT).is_live


def test_a_production_url_behind_another_label_is_still_live():
    assert targets_production("demo", PROD_URL) and targets_production("sim", PROD_URL)
    with pytest.raises(TradingRefused, match="FLB_LIVE_TRADING"):
        mode("demo", "exchange", url=PROD_URL)
    with pytest.raises(TradingRefused, match="FLB_LIVE_TRADING"):
        mode("sim", "exchange", url="http://10.1.2.3:8765/trade-api/v2")


def test_loopback_and_demo_urls_are_not_production():
    assert not targets_production("sim", "http://127.0.0.1:8765/trade-api/v2")
    assert not targets_production("demo", "https://demo-api.kalshi.co/trade-api/v2")
    assert mode("sim", "exchange", url="http://localhost:9/trade-api/v2").execution == "exchange"


def test_demo_exchange_execution_needs_keys_but_not_consent():
    with pytest.raises(TradingRefused, match="KALSHI_API_KEY_ID") as refused:
        mode("demo", "exchange", has_key_id=False)
    assert "FLB_LIVE_TRADING" not in str(refused.value)


def test_unknown_settings_are_refused():
    with pytest.raises(TradingRefused, match="FLB_EXCHANGE='live'"):
        mode("live")
    with pytest.raises(TradingRefused, match="FLB_EXECUTION='yolo'"):
        mode("sim", "yolo")
