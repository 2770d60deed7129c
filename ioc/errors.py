"""The IOC's exceptions.

    IOCError
    ├── InvalidInput                 bad input; ``reason`` is its dead-letter reason
    │   ├── Oversized                payload over the 64 KiB contract limit
    │   ├── MalformedJSON            not UTF-8 JSON
    │   ├── InvalidPayload           JSON, but not a sample or a batch
    │   ├── BadTopic / UnknownDomain
    │   ├── UnknownDevice / DecommissionedDevice / DomainMismatch
    │   ├── BadTimestamp / FutureTimestamp / StaleTimestamp
    │   ├── UnknownMetric / NotANumber / NotFinite / OutOfRange
    │   └── Duplicate
    ├── NotFound                     404
    ├── Conflict                     409
    ├── Unauthorized                 401: no key, or not a valid one
    │   └── TooManyAttempts          429: this client failed too often (Retry-After)
    ├── Forbidden                    403: the key's role is too low
    └── Unavailable                  a dependency cannot be reached
        ├── StorageUnavailable       PostgreSQL
        └── BrokerUnavailable        MQTT broker

Foreign errors (psycopg, paho) are translated into these once, at the storage and
broker adapters; nothing above them catches a library's exception.
"""

from __future__ import annotations

from ioc.types import RejectReason


class IOCError(Exception):
    """Base of every error the IOC raises on purpose."""


class InvalidInput(IOCError):
    reason: RejectReason = RejectReason.INVALID_PAYLOAD

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Oversized(InvalidInput):
    reason = RejectReason.OVERSIZED


class MalformedJSON(InvalidInput):
    reason = RejectReason.MALFORMED_JSON


class InvalidPayload(InvalidInput):
    reason = RejectReason.INVALID_PAYLOAD


class BadTopic(InvalidInput):
    reason = RejectReason.BAD_TOPIC


class UnknownDomain(InvalidInput):
    reason = RejectReason.UNKNOWN_DOMAIN


class UnknownDevice(InvalidInput):
    reason = RejectReason.UNKNOWN_DEVICE


class DecommissionedDevice(InvalidInput):
    reason = RejectReason.DECOMMISSIONED_DEVICE


class DomainMismatch(InvalidInput):
    reason = RejectReason.DOMAIN_MISMATCH


class BadTimestamp(InvalidInput):
    reason = RejectReason.BAD_TIMESTAMP


class FutureTimestamp(InvalidInput):
    reason = RejectReason.FUTURE_TIMESTAMP


class StaleTimestamp(InvalidInput):
    reason = RejectReason.STALE_TIMESTAMP


class UnknownMetric(InvalidInput):
    reason = RejectReason.UNKNOWN_METRIC


class NotANumber(InvalidInput):
    reason = RejectReason.NOT_A_NUMBER


class NotFinite(InvalidInput):
    reason = RejectReason.NOT_FINITE


class OutOfRange(InvalidInput):
    reason = RejectReason.OUT_OF_RANGE


class Duplicate(InvalidInput):
    reason = RejectReason.DUPLICATE


class NotFound(IOCError):
    pass


class Conflict(IOCError):
    pass


class Unauthorized(IOCError):
    pass


class TooManyAttempts(Unauthorized):
    """429: this client failed too often; ``retry_after`` seconds until it may retry."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts from this client: retry in {retry_after} s")
        self.retry_after = retry_after


class Forbidden(IOCError):
    pass


class Unavailable(IOCError):
    pass


class StorageUnavailable(Unavailable):
    pass


class BrokerUnavailable(Unavailable):
    pass
