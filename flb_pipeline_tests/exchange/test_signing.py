import base64

from cryptography.hazmat.primitives.asymmetric import rsa

from flb_pipeline.exchange import signing


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_signature_verifies_with_the_public_key():
    key = _key()
    signature = signing.sign(key, 1_700_000_000_000, "GET", "/trade-api/v2/portfolio/balance")
    assert signing.verify(
        key.public_key(), 1_700_000_000_000, "GET", "/trade-api/v2/portfolio/balance", signature
    )


def test_query_string_is_not_signed():
    key = _key()
    signature = signing.sign(key, 1, "GET", "/trade-api/v2/portfolio/fills?limit=5")
    assert signing.verify(key.public_key(), 1, "GET", "/trade-api/v2/portfolio/fills", signature)
    assert signing.signing_message(1, "get", "/trade-api/v2/x?a=1") == b"1GET/trade-api/v2/x"


def test_tampering_or_another_key_fails_verification():
    key = _key()
    signature = signing.sign(key, 5, "POST", "/trade-api/v2/portfolio/orders")
    assert not signing.verify(
        key.public_key(), 6, "POST", "/trade-api/v2/portfolio/orders", signature
    )
    assert not signing.verify(
        key.public_key(), 5, "GET", "/trade-api/v2/portfolio/orders", signature
    )
    assert not signing.verify(
        _key().public_key(), 5, "POST", "/trade-api/v2/portfolio/orders", signature
    )
    assert not signing.verify(key.public_key(), 5, "POST", "/x", "not base64!")


def test_pss_salt_is_digest_length():
    """PSS with a 32-byte salt: verifying with a different salt length must fail."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _key()
    signature = base64.b64decode(signing.sign(key, 9, "GET", "/trade-api/v2/portfolio/balance"))
    message = b"9GET/trade-api/v2/portfolio/balance"
    key.public_key().verify(
        signature,
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    try:
        key.public_key().verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return
    raise AssertionError("a 20-byte salt verified: the salt is not the digest length")


def test_generated_key_pair_round_trips(tmp_path):
    private_path, public_pem = signing.generate_key_pair(tmp_path)
    private_key = signing.load_private_key(private_path)
    signature = signing.sign(private_key, 3, "GET", "/trade-api/v2/portfolio/balance")
    assert signing.verify(
        signing.load_public_key(public_pem), 3, "GET", "/trade-api/v2/portfolio/balance", signature
    )
    assert oct(private_path.stat().st_mode & 0o777) == "0o600"
