"""The shapes the IOC passes around: readings, dead-letter reasons, rejections.

One home for the vocabulary, so that ingest, the simulator, the alert engine and the
API mean the same thing by the same word.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class Reading(NamedTuple):
    """One value of one metric of one device at one instant: a row of ``readings``."""

    time: datetime
    device_id: str
    metric: str
    value: float


class RejectReason(StrEnum):
    """Why input was dead-lettered. Stored as text in ``dead_letters.reason``."""

    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    INVALID_PAYLOAD = "invalid_payload"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_DOMAIN = "unknown_domain"
    UNKNOWN_DEVICE = "unknown_device"
    DECOMMISSIONED_DEVICE = "decommissioned_device"
    DOMAIN_MISMATCH = "domain_mismatch"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    UNKNOWN_METRIC = "unknown_metric"
    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    DUPLICATE = "duplicate"


class Rejection(NamedTuple):
    """One piece of a message that was not stored, and why.

    ``sample`` is the index in a store-and-forward batch (0 for a single sample, None
    when the whole message was refused); ``metric`` is set when one reading was refused.
    """

    reason: RejectReason
    detail: str
    sample: int | None = None
    metric: str | None = None
