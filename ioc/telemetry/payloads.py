"""Telemetry and status payloads: the models devices publish and the center reads.

A sample is ``{"ts", "seq"?, "readings": {metric: number}}``; a device that was offline
sends ``{"batch": [sample, ...]}``. ``ts`` is RFC 3339 with an offset, or integer epoch
milliseconds. Readings are kept as raw JSON values here: whether each one is acceptable
is the decoder's question, asked reading by reading so one bad value costs only itself.

A boolean is not a number anywhere (Python and pydantic's lax mode would read ``true``
as 1): not as ``ts``, not as ``seq``, not as a reading. ``ts`` and ``seq`` are strict
integers (no ``true``, no ``17.0``), which also costs less than checking afterwards.
"""

from __future__ import annotations

import math
import reprlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ioc.errors import BadTimestamp

MAX_PAYLOAD_BYTES = 64 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Bounded, flat and escaped: a hostile value (64 KiB of text, a list nested 900 deep,
#: a NUL or a lone surrogate) is shown in a dead letter's detail without blowing it up.
_SHOW = reprlib.Repr()
_SHOW.maxlevel = 2
_SHOW.maxstring = 80
_SHOW.maxother = 80
_SHOW.maxlong = 40


def shown(raw: object) -> str:
    """``repr(raw)``, cut short: how a refused value is quoted in a rejection's detail."""
    return _SHOW.repr(raw)


def parse_timestamp(raw: object) -> datetime:
    """RFC 3339 text with an offset, or integer epoch milliseconds → aware UTC datetime."""
    if isinstance(raw, bool):
        raise BadTimestamp(f"ts {raw!r} is neither RFC 3339 text nor epoch milliseconds")
    if isinstance(raw, int):
        try:
            return _EPOCH + timedelta(milliseconds=raw)
        except OverflowError:
            raise BadTimestamp(f"ts {shown(raw)} ms is out of the representable range") from None
    if isinstance(raw, str):
        text = raw.strip().upper()  # RFC 3339 allows "t" and "z"
        if len(text) < 20 or text[10] not in "Tt ":
            raise BadTimestamp(f"ts {shown(raw)} is not an RFC 3339 date-time")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadTimestamp(f"ts {shown(raw)} is not an RFC 3339 date-time") from None
        if parsed.tzinfo is None:
            raise BadTimestamp(f"ts {shown(raw)} has no UTC offset")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
            raise BadTimestamp(f"ts {shown(raw)} is out of the representable range") from None
    raise BadTimestamp(f"ts {shown(raw)} is neither RFC 3339 text nor epoch milliseconds")


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

    ts: str | StrictInt = Field(description="RFC 3339 with offset, or integer epoch milliseconds")
    seq: StrictInt | None = Field(default=None, ge=0, description="per-device counter")
    readings: dict[str, Any] = Field(min_length=1)


class Batch(BaseModel):
    """Store-and-forward: the samples a device kept while it was offline."""

    model_config = ConfigDict(extra="ignore")

    batch: list[Any] = Field(min_length=1)


class Status(BaseModel):
    """Published retained on ``…/status``; ``offline`` is also the device's last will."""

    model_config = ConfigDict(extra="ignore")

    state: Literal["online", "offline"]
    ts: str | StrictInt | None = None
