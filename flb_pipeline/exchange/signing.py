"""Kalshi request signing: RSA-PSS(SHA-256, MGF1-SHA-256, salt = digest length).

The signed message is `timestamp_ms + METHOD + path`, where the path includes the
`/trade-api/v2` prefix and excludes the query string. Shared by the client (signs) and the
simulator (verifies), so both sides agree on one definition.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(timestamp_ms: int, method: str, path: str) -> bytes:
    """The exact bytes Kalshi signs; the query string is never part of it."""
    return f"{timestamp_ms}{method.upper()}{urlsplit(path).path}".encode()


def sign(private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str) -> str:
    signature = private_key.sign(
        signing_message(timestamp_ms, method, path), _pss(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode("ascii")


def verify(
    public_key: rsa.RSAPublicKey, timestamp_ms: int, method: str, path: str, signature_b64: str
) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature_b64, validate=True),
            signing_message(timestamp_ms, method, path),
            _pss(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def auth_headers(
    key_id: str, private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str
) -> dict[str, str]:
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: str(timestamp_ms),
        SIGNATURE_HEADER: sign(private_key, timestamp_ms, method, path),
    }


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The key in `path`. Parsing a PEM key costs tens of milliseconds and every step of a
    cycle opens a client, so a key is parsed once per file version (a rotated file is
    read again)."""
    return _parsed_private_key(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parsed_private_key(path: Path, mtime_ns: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the registered key is not an RSA public key")
    return key


def generate_key_pair(directory: Path) -> tuple[Path, bytes]:
    """A fresh 2048-bit key (private PEM written to `directory`, public PEM returned).

    Used by the demo and the tests to exercise signed requests against the simulator.
    """
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path = directory / "kalshi_private_key.pem"
    private_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_path, public_pem
