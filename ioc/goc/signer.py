"""HMAC-SHA256 over timestamp and body, as the GOC verifies it.

The signed message is ``f"{timestamp}.".encode() + body`` (the exact bytes sent);
headers:

- ``X-IOC-Timestamp``: Unix seconds when the request was signed;
- ``X-IOC-Signature``: ``sha256=<hex digest>``;
- ``Idempotency-Key``: stable per notification, so a retry is recognised.

A receiver refuses a timestamp further than ``tolerance`` from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP = "X-IOC-Timestamp"
SIGNATURE = "X-IOC-Signature"
IDEMPOTENCY_KEY = "Idempotency-Key"
TOLERANCE_S = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers(secret: bytes, timestamp: int, body: bytes, key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
        IDEMPOTENCY_KEY: key,
    }


def verify(
    secret: bytes,
    timestamp: str | None,
    body: bytes,
    given: str | None,
    now: float,
    tolerance: int = TOLERANCE_S,
) -> str | None:
    """None when the request is authentic; otherwise why not."""
    if not timestamp or not given:
        return "missing signature headers"
    if not timestamp.isdigit():
        return "bad timestamp"
    if abs(now - int(timestamp)) > tolerance:
        return "timestamp outside tolerance"
    if not hmac.compare_digest(signature(secret, int(timestamp), body), given):
        return "signature mismatch"
    return None
