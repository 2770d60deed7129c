"""Telemetry and status payloads: the models devices publish and the center reads.

A sample is ``{"ts", "seq"?, "readings": {metric: number}}``; a device that was offline
sends ``{"batch": [sample, ...]}``. ``ts`` is RFC 3339 with an offset, or integer epoch
milliseconds. Readings are kept as raw JSON values here: whether each one is acceptable
is the decoder's question, asked reading by reading so one bad value costs only itself.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.errors import BadTimestamp

MAX_PAYLOAD_BYTES = 64 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(raw: object) -> datetime:
    """RFC 3339 text with an offset, or integer epoch milliseconds → aware UTC datetime."""
    if isinstance(raw, bool):
        raise BadTimestamp(f"ts {raw!r} is neither RFC 3339 text nor epoch milliseconds")
    if isinstance(raw, int):
        try:
            return _EPOCH + timedelta(milliseconds=raw)
        except OverflowError:
            raise BadTimestamp(f"ts {raw} ms is out of the representable range") from None
    if isinstance(raw, str):
        text = raw.strip().upper()  # RFC 3339 allows "t" and "z"
        if len(text) < 20 or text[10] not in "Tt ":
            raise BadTimestamp(f"ts {raw!r} is not an RFC 3339 date-time")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadTimestamp(f"ts {raw!r} is not an RFC 3339 date-time") from None
        if parsed.tzinfo is None:
            raise BadTimestamp(f"ts {raw!r} has no UTC offset")
        return parsed.astimezone(UTC)
    raise BadTimestamp(f"ts {raw!r} is neither RFC 3339 text nor epoch milliseconds")


def format_timestamp(ts: datetime) -> str:
    """The canonical wire form: UTC, millisecond precision, ``Z`` suffix."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(ts: datetime) -> int:
    return math.floor((ts - _EPOCH) / timedelta(milliseconds=1))


class Sample(BaseModel):
    """One sample of a device: the values it read at one instant."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-11-23T10:00:00.120Z",
                    "seq": 17,
                    "readings": {"vehicle_count": 42, "avg_speed_kmh": 31.5},
                }
            ]
        },
    )

    ts: str | int = Field(description="RFC 3339 with offset, or integer epoch milliseconds")
    seq: int | None = Field(default=None, ge=0, description="per-device counter")
    readings: dict[str, Any] = Field(min_length=1)


class Batch(BaseModel):
    """Store-and-forward: the samples a device kept while it was offline."""

    model_config = ConfigDict(extra="ignore")

    batch: list[Any] = Field(min_length=1)


class Status(BaseModel):
    """Published retained on ``…/status``; ``offline`` is also the device's last will."""

    model_config = ConfigDict(extra="ignore")

    state: Literal["online", "offline"]
    ts: str | int | None = None
