"""Signed portfolio requests: RSA-PSS verification once a public key is registered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from flb_pipeline.exchange.signing import auth_headers, generate_key_pair, load_private_key
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline_tests.exchange.simulator.helpers import BASE_CONFIG, SimClient

BALANCE_PATH = "/trade-api/v2/portfolio/balance"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, str]:
    private_path, public_pem = generate_key_pair(Path(tmp_path_factory.mktemp("keys")))
    return load_private_key(private_path), public_pem.decode()


@pytest.fixture
def signed_sim(key: tuple[rsa.RSAPrivateKey, str]) -> Iterator[SimClient]:
    """A dedicated server: registered keys outlive resets, so they must not leak."""
    with SimulatorServer(BASE_CONFIG) as server, SimClient(server) as client:
        client.control("/keys", {"key_id": "test-key", "public_key_pem": key[1]})
        yield client


def _signed(private_key: rsa.RSAPrivateKey, method: str, path: str, **overrides: str) -> dict:
    headers = auth_headers("test-key", private_key, int(time.time() * 1000), method, path)
    return headers | overrides


def test_unsigned_portfolio_request_is_401(signed_sim: SimClient) -> None:
    response = signed_sim.http.get("/portfolio/balance")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_signed_request_is_accepted_and_market_data_stays_open(
    signed_sim: SimClient, key: tuple[rsa.RSAPrivateKey, str]
) -> None:
    headers = _signed(key[0], "GET", BALANCE_PATH)
    assert signed_sim.http.get("/portfolio/balance", headers=headers).status_code == 200
    assert signed_sim.http.get("/markets", params={"limit": 1}).status_code == 200


def test_signature_covers_the_path_without_the_query(
    signed_sim: SimClient, key: tuple[rsa.RSAPrivateKey, str]
) -> None:
    path = "/trade-api/v2/portfolio/fills"
    headers = _signed(key[0], "GET", path)
    response = signed_sim.http.get("/portfolio/fills", params={"limit": 5}, headers=headers)
    assert response.status_code == 200


def test_signed_order_post(signed_sim: SimClient, key: tuple[rsa.RSAPrivateKey, str]) -> None:
    market = signed_sim.two_sided()
    path = "/trade-api/v2/portfolio/events/orders"
    headers = _signed(key[0], "POST", path)
    body = {
        "ticker": market["ticker"],
        "side": "bid",
        "count": "1",
        "price": market["yes_ask_dollars"],
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
    }
    signed = signed_sim.http.post("/portfolio/events/orders", json=body, headers=headers)
    assert signed.status_code == 201
    wrong_method = _signed(key[0], "GET", path)
    replayed = signed_sim.http.post("/portfolio/events/orders", json=body, headers=wrong_method)
    assert replayed.status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [
        {"KALSHI-ACCESS-KEY": "someone-else"},
        {"KALSHI-ACCESS-SIGNATURE": "AAAA"},
        {"KALSHI-ACCESS-TIMESTAMP": str(int(time.time() * 1000) - 400_000)},
        {"KALSHI-ACCESS-TIMESTAMP": "soon"},
    ],
)
def test_bad_key_signature_or_timestamp_is_401(
    signed_sim: SimClient, key: tuple[rsa.RSAPrivateKey, str], tamper: dict[str, str]
) -> None:
    headers = _signed(key[0], "GET", BALANCE_PATH, **tamper)
    assert signed_sim.http.get("/portfolio/balance", headers=headers).status_code == 401


def test_invalid_public_key_pem_is_400(signed_sim: SimClient) -> None:
    url = f"{signed_sim.server.root_url}/_sim/keys"
    response = signed_sim.http.post(url, json={"key_id": "k", "public_key_pem": "nope"})
    assert response.status_code == 400
