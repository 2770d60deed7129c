"""Turn what arrived on a topic into readings to store and rejections to dead-letter.

Pure: no broker, no database, no clock. The caller passes the time the message was
received and a lookup into the device registry. This is the one place the rules of the
MQTT contract live; ingest, the simulator's tests and the API all go through it.

The common case (one well-formed sample, readings that are numbers) takes a fast path:
the sample's shape is checked by hand and each reading against bounds compiled from
the catalog once (:func:`_bounds`); anything else goes the model's way
(:mod:`ioc.telemetry.payloads`), which also words the rejection. Both paths accept and
refuse exactly the same payloads.

A rejection costs only what it touches: a bad reading drops that reading, a bad sample
in a batch drops that sample, and only a payload that cannot be read at all drops the
whole message.

Nothing a device sends makes it raise: any bytes on a telemetry topic come back as
readings and rejections (``decode_status`` raises only the :class:`InvalidInput` that
names its reason). ``tests/telemetry/test_decoder_fuzz.py`` holds it to that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from ioc.errors import (
    BadTimestamp,
    DecommissionedDevice,
    DomainMismatch,
    FutureTimestamp,
    InvalidInput,
    InvalidPayload,
    MalformedJSON,
    NotANumber,
    NotFinite,
    OutOfRange,
    Oversized,
    StaleTimestamp,
    UnknownDevice,
    UnknownMetric,
)
from ioc.telemetry.catalog import CATALOG, Catalog
from ioc.telemetry.payloads import (
    MAX_PAYLOAD_BYTES,
    Batch,
    Sample,
    Status,
    parse_timestamp,
    shown,
)
from ioc.telemetry.topics import Topic, parse_topic
from ioc.types import Reading, Rejection


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What the decoder needs to know of a registered device."""

    device_id: str
    domain: str
    decommissioned: bool = False


DeviceLookup = Callable[[str], DeviceRecord | None]


@dataclass(frozen=True, slots=True)
class DecodePolicy:
    """Limits that are settings rather than contract."""

    max_bytes: int = MAX_PAYLOAD_BYTES
    #: Clock skew tolerated before a timestamp counts as "in the future".
    max_future: timedelta = timedelta(minutes=5)
    #: Older samples are refused: they would fall outside the raw-data retention.
    max_age: timedelta = timedelta(days=30)


DEFAULT_POLICY = DecodePolicy()


@dataclass(slots=True)
class Decoded:
    """The outcome of one telemetry message."""

    topic: Topic | None
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    samples: int = 0
    seqs: list[int] = field(default_factory=list)

    @property
    def device_id(self) -> str | None:
        return self.topic.device_id if self.topic else None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    device_id: str
    domain: str
    online: bool
    ts: datetime


def _refuse(topic: Topic | None, exc: InvalidInput) -> Decoded:
    return Decoded(topic=topic, rejections=[Rejection(exc.reason, exc.detail)])


def _check_device(topic: Topic, devices: DeviceLookup) -> None:
    device = devices(topic.device_id)
    if device is None:
        raise UnknownDevice(f"device {topic.device_id!r} is not registered")
    if device.decommissioned:
        raise DecommissionedDevice(f"device {topic.device_id!r} was decommissioned")
    if device.domain != topic.domain:
        raise DomainMismatch(
            f"device {topic.device_id!r} is registered in {device.domain!r}, not {topic.domain!r}"
        )


def _int_or_float(digits: str) -> int | float:
    """``parse_int`` for an integer longer than ``int()`` converts (4,300 digits): as a
    float (±inf) it is refused for what it is, a number no double holds."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def _parse_json(text: str, parse_int: Callable[[str], Any] | None = None) -> Any:
    try:
        return json.loads(text, parse_int=parse_int)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"payload is not JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise MalformedJSON("payload nests too deeply") from None


def _load_json(payload: bytes, max_bytes: int) -> Any:
    if len(payload) > max_bytes:
        raise Oversized(f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return _parse_json(text)
    except ValueError:  # valid JSON with a huge integer: read again, the slow way, only then
        return _parse_json(text, parse_int=_int_or_float)


def _invalid(exc: ValidationError) -> InvalidInput:
    """The rejection for a payload that does not fit its model: a ``ts`` that is there but
    is no timestamp (``true``, ``1.5``, ``1e999``) is ``bad_timestamp``, the rest
    ``invalid_payload``."""
    first = exc.errors(include_url=False, include_context=False)[0]
    if first["loc"][:1] == ("ts",) and first["type"] != "missing":
        return BadTimestamp(
            f"ts {shown(first['input'])} is neither RFC 3339 text nor integer epoch milliseconds"
        )
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return InvalidPayload(f"{where}: {first['msg']}")


def reading_value(metric_name: str, domain: str, raw: object, catalog: Catalog) -> float:
    """Check one reading against the catalog; return it as a float or raise why not."""
    metric = catalog.metric(domain, metric_name)
    if metric is None:
        raise UnknownMetric(f"{shown(metric_name)} is not a {domain} metric")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise NotANumber(f"{metric_name} = {shown(raw)} is not a number")
    try:
        value = float(raw)
    except OverflowError:
        raise NotFinite(f"{metric_name} = {shown(raw)} does not fit a double") from None
    if not math.isfinite(value):
        raise NotFinite(f"{metric_name} = {value} is not finite")
    if value == 0.0:
        value = 0.0  # -0.0 too: a signed zero is no reading of a sensor
    if not metric.in_range(value):
        raise OutOfRange(
            f"{metric_name} = {value} is outside [{metric.min:g}, {metric.max:g}] {metric.unit}"
        )
    return value


#: Per catalog and domain: metric name → (min, max), for the fast path.
_Bounds = Mapping[str, tuple[float, float]]
_BOUNDS: dict[tuple[int, str], tuple[Catalog, _Bounds]] = {}


def _bounds(catalog: Catalog, domain: str) -> _Bounds:
    key = (id(catalog), domain)
    entry = _BOUNDS.get(key)
    if entry is not None and entry[0] is catalog:  # the entry holds it: its id is not reused
        return entry[1]
    found = {m.name: (m.min, m.max) for m in catalog.get(domain, {}).values()}
    if len(_BOUNDS) < 64:  # catalogs are few: tests make some, ingest uses one
        _BOUNDS[key] = (catalog, found)
    return found


@lru_cache(maxsize=16384)
def _topic(topic: str) -> Topic:
    """:func:`parse_topic`, remembered: a device publishes on the same topic all day."""
    return parse_topic(topic)


def _fast_sample(
    raw: Any,
    topic: Topic,
    received_at: datetime,
    policy: DecodePolicy,
    bounds: _Bounds,
    out: Decoded,
) -> bool:
    """Decode a sample that needs no model: a dict with text ``ts``, no or a
    non-negative integer ``seq`` and finite in-range numbers as readings. False (and
    ``out`` untouched) when it is anything else: the caller then takes the model path."""
    if type(raw) is not dict:
        return False
    ts_raw = raw.get("ts")
    seq = raw.get("seq")
    readings = raw.get("readings")
    if (
        type(ts_raw) is not str
        or type(readings) is not dict
        or not readings
        or not (seq is None or (type(seq) is int and seq >= 0))
    ):
        return False
    values: list[tuple[str, float]] = []
    for name, value in readings.items():
        kind = type(value)
        if kind is not float and kind is not int:
            return False
        limits = bounds.get(name)
        if limits is None:
            return False
        number = float(value) if kind is float else _small_int(value)
        if number is None or not (limits[0] <= number <= limits[1]):
            return False  # also NaN and ±inf: no comparison holds
        values.append((name, number + 0.0))  # -0.0 + 0.0 is 0.0
    ts = parse_timestamp(ts_raw)
    if ts > received_at + policy.max_future or ts < received_at - policy.max_age:
        return False
    if seq is not None:
        out.seqs.append(seq)
    device_id = topic.device_id
    out.readings.extend([Reading(ts, device_id, name, number) for name, number in values])
    return True


def _small_int(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None


def _decode_sample(
    raw: Any,
    index: int,
    topic: Topic,
    received_at: datetime,
    policy: DecodePolicy,
    catalog: Catalog,
    out: Decoded,
) -> None:
    try:
        sample = Sample.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None
    ts = parse_timestamp(sample.ts)
    if ts > received_at + policy.max_future:
        raise FutureTimestamp(
            f"ts {ts.isoformat()} is ahead of the center's clock by more than {policy.max_future}"
        )
    if ts < received_at - policy.max_age:
        raise StaleTimestamp(f"ts {ts.isoformat()} is older than {policy.max_age}")
    if sample.seq is not None:
        out.seqs.append(sample.seq)
    for name, value in sample.readings.items():
        try:
            out.readings.append(
                Reading(
                    ts, topic.device_id, name, reading_value(name, topic.domain, value, catalog)
                )
            )
        except InvalidInput as exc:
            out.rejections.append(Rejection(exc.reason, exc.detail, index, name))


def decode_telemetry(
    topic: str,
    payload: bytes,
    received_at: datetime,
    devices: DeviceLookup,
    policy: DecodePolicy = DEFAULT_POLICY,
    catalog: Catalog = CATALOG,
) -> Decoded:
    """Decode one telemetry message; never raises for bad input."""
    try:
        parsed = _topic(topic)
    except InvalidInput as exc:
        return _refuse(None, exc)
    try:
        _check_device(parsed, devices)
        body = _load_json(payload, policy.max_bytes)
        if isinstance(body, dict) and "batch" in body:
            samples = Batch.model_validate(body).batch
        elif isinstance(body, dict):
            samples = [body]
        else:
            raise InvalidPayload(f"payload is a JSON {type(body).__name__}, not an object")
    except ValidationError as exc:
        return _refuse(parsed, _invalid(exc))
    except InvalidInput as exc:
        return _refuse(parsed, exc)

    out = Decoded(topic=parsed, samples=len(samples))
    bounds = _bounds(catalog, parsed.domain)
    for index, raw in enumerate(samples):
        try:
            if _fast_sample(raw, parsed, received_at, policy, bounds, out):
                continue
            _decode_sample(raw, index, parsed, received_at, policy, catalog, out)
        except InvalidInput as exc:
            out.rejections.append(Rejection(exc.reason, exc.detail, index))
    return out


def decode_status(
    topic: str,
    payload: bytes,
    received_at: datetime,
    devices: DeviceLookup,
    policy: DecodePolicy = DEFAULT_POLICY,
) -> StatusUpdate:
    """Decode a ``…/status`` message, or raise the :class:`InvalidInput` that says why not.

    An empty payload (a retained status being cleared) is not an error of the device's,
    but it carries no state either: it is refused as ``invalid_payload``. A ``ts`` ahead
    of the center's clock beyond the tolerance is ``future_timestamp``: a newer status
    never overwrites it, so one from 2199 would pin the device's state for good.
    """
    parsed = parse_topic(topic)
    _check_device(parsed, devices)
    body = _load_json(payload, MAX_PAYLOAD_BYTES)
    try:
        status = Status.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    ts = parse_timestamp(status.ts) if status.ts is not None else received_at
    if ts > received_at + policy.max_future:
        raise FutureTimestamp(
            f"status ts {ts.isoformat()} is ahead of the center's clock by more than"
            f" {policy.max_future}"
        )
    return StatusUpdate(parsed.device_id, parsed.domain, status.state == "online", ts)
