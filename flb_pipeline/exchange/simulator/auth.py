"""Kalshi API-key authentication for the portfolio endpoints.

Once any public key is registered, a portfolio request must carry a registered key id, a
millisecond timestamp close to the *wall* clock (a manual simulated clock must not make stale
signatures valid) and an RSA-PSS signature checked by the same `signing.verify` the client's
signer is tested against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from flb_pipeline.exchange.signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_public_key,
    verify,
)
from flb_pipeline.exchange.simulator.config import ConfigError
from flb_pipeline.exchange.simulator.errors import ApiError

MAX_CLOCK_SKEW_MS = 300_000


class KeyRing:
    """Registered public keys by key id; empty means portfolio endpoints are open."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._wall = wall

    def register(self, key_id: str, public_key_pem: str) -> None:
        if not key_id:
            raise ConfigError("key_id is required")
        try:
            self._keys[key_id] = load_public_key(public_key_pem.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"not an RSA public key PEM: {exc}") from exc

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> None:
        """Raise 401 unless the request is signed by a registered key (or none is registered)."""
        if not self._keys:
            return
        key = self._keys.get(headers.get(KEY_HEADER, ""))
        if key is None:
            raise _unauthorized("unknown or missing API key id")
        try:
            timestamp_ms = int(headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            raise _unauthorized("missing or malformed timestamp") from None
        if abs(self._wall() * 1000 - timestamp_ms) > MAX_CLOCK_SKEW_MS:
            raise _unauthorized("timestamp outside the allowed window")
        if not verify(key, timestamp_ms, method, path, headers.get(SIGNATURE_HEADER, "")):
            raise _unauthorized("bad signature")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)
