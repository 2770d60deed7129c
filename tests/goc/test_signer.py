"""Signing and verification: the contract the GOC checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ioc.goc import signer

SECRET = b"shared-secret"
BODY = b'{"schema":"ioc.goc.report/v1"}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signer.signature(SECRET, 1700000000, BODY) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "ts", "body", "now", "problem"),
    [
        (SECRET, "1700000000", BODY, 1700000000, None),
        (SECRET, "1700000000", BODY, 1700000299, None),
        (SECRET, "1700000000", BODY, 1700000301, "timestamp outside tolerance"),
        (SECRET, "1700000000", BODY + b" ", 1700000000, "signature mismatch"),
        (b"other", "1700000000", BODY, 1700000000, "signature mismatch"),
        (SECRET, "17e8", BODY, 1700000000, "bad timestamp"),
        (SECRET, None, BODY, 1700000000, "missing signature headers"),
    ],
)
def test_verify(secret: bytes, ts: str | None, body: bytes, now: int, problem: str | None) -> None:
    given = signer.signature(SECRET, 1700000000, BODY)
    assert signer.verify(secret, ts, body, given, now) == problem


def test_headers_carry_the_idempotency_key() -> None:
    h = signer.headers(SECRET, 1700000000, BODY, "alert-7-opened")
    assert h["Idempotency-Key"] == "alert-7-opened"
    assert (
        signer.verify(SECRET, h["X-IOC-Timestamp"], BODY, h["X-IOC-Signature"], 1700000000) is None
    )
