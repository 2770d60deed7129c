"""The decoder never raises: whatever bytes arrive on whatever topic, telemetry comes back
as readings and rejections with a reason, and a status either decodes or raises the
:class:`InvalidInput` that names its reason (ingest dead-letters it and goes on).

Hypothesis drives it with arbitrary bytes, arbitrary JSON (recursive strategies),
payloads shaped like the contract's with hostile parts, and the JSON edge cases that once
got through: integers beyond ``int()``'s 4,300 digits, deep nesting, huge exponents,
``-0``, non-string keys, booleans for numbers, invalid UTF-8.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ioc.errors import InvalidInput
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.decoder import DeviceRecord, decode_status, decode_telemetry
from ioc.telemetry.payloads import MAX_PAYLOAD_BYTES
from ioc.types import DOMAINS, RejectReason

RECEIVED = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
DEVICES = {f"{d}-1": DeviceRecord(f"{d}-1", d) for d in DOMAINS}
DEVICES["old-1"] = DeviceRecord("old-1", "traffic", decommissioned=True)
METRICS = sorted({m for metrics in CATALOG.values() for m in metrics})
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

topics = st.one_of(
    st.sampled_from(
        [f"ioc/v1/{d}/{d}-1/telemetry" for d in DOMAINS]
        + ["ioc/v1/traffic/old-1/telemetry", "ioc/v1/energy/traffic-1/telemetry"]
    ),
    st.text(max_size=80),
)
status_topics = st.one_of(
    st.sampled_from([f"ioc/v1/{d}/{d}-1/status" for d in DOMAINS]), st.text(max_size=80)
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),  # NaN and ±inf included: dumped as NaN / Infinity, which json reads back
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)

#: JSON number texts no json.dumps produces: the edge cases, as literal text.
huge_int = st.integers(min_value=4290, max_value=6000).map(lambda n: "9" * n)
number_texts = st.one_of(
    huge_int,
    huge_int.map(lambda digits: "-" + digits),
    st.sampled_from(["1e999", "-1e999", "1e-999", "-0", "-0.0", "0e0", "true", "false"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "null", '"42"', "[]", "{}"]),
)
ts_texts = st.one_of(
    number_texts,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.datetimes(timezones=st.timezones()).map(lambda t: json.dumps(t.isoformat())),
    st.sampled_from(
        [
            '"2026-11-23T10:00:00Z"',
            '"9999-12-31T23:59:59-23:59"',
            '"0001-01-01T00:00:00+23:59"',
            '"2026-11-23T10:00:00"',
            "1795428000000",
            "1795428000000.0",
        ]
    ),
    st.text(max_size=40).map(json.dumps),
)
value_texts = st.one_of(
    number_texts,
    st.floats(min_value=-1e6, max_value=1e6).map(repr),
    st.integers(min_value=-1000, max_value=1000).map(str),
    json_values.map(json.dumps),
)
names = st.one_of(st.sampled_from(METRICS), st.text(max_size=20))


@st.composite
def sample_texts(draw: st.DrawFn) -> str:
    """A sample as text, shaped like the contract's, each part possibly hostile."""
    parts = []
    if draw(st.booleans()):
        parts.append(f'"ts": {draw(ts_texts)}')
    if draw(st.booleans()):
        parts.append(f'"seq": {draw(st.one_of(number_texts, st.integers().map(str)))}')
    readings = draw(st.lists(st.tuples(names, value_texts), max_size=6))
    body = ", ".join(f"{json.dumps(name)}: {value}" for name, value in readings)
    if draw(st.booleans()):
        body = f"1: {draw(value_texts)}" + (", " + body if body else "")  # non-string key
    parts.append(f'"readings": {{{body}}}')
    return "{" + ", ".join(draw(st.permutations(parts))) + "}"


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Contract-shaped text, then maybe nested, batched, cut or spliced with bad bytes."""
    text = draw(
        st.one_of(
            sample_texts(),
            st.lists(sample_texts(), max_size=4).map(lambda s: '{"batch": [' + ", ".join(s) + "]}"),
            json_values.map(json.dumps),
            st.integers(min_value=1, max_value=40_000).map(lambda n: "[" * n + "]" * n),
            st.integers(min_value=1, max_value=40_000).map(lambda n: '{"a": ' * n),
        )
    )
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates: invalid UTF-8 on the wire
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"])
        )
        raw = raw[:at] + junk + raw[at:]
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    return raw


def check_decoded(topic: str, payload: bytes) -> None:
    decoded = decode_telemetry(topic, payload, RECEIVED, DEVICES.get)
    assert decoded.readings or decoded.rejections, "every input is either stored or refused"
    for r in decoded.rejections:
        assert isinstance(r.reason, RejectReason)
        assert r.detail and len(r.detail) < 300 and "\x00" not in r.detail
        r.detail.encode("utf-8")  # no lone surrogate: it goes into a text column
    for reading in decoded.readings:
        metric = CATALOG.metric(topic.split("/")[2], reading.metric)
        assert metric is not None and metric.in_range(reading.value)
        assert math.isfinite(reading.value)
        assert math.copysign(1.0, reading.value) == 1.0 or reading.value < 0, "no -0.0"
        assert reading.time.tzinfo is not None


def check_status(topic: str, payload: bytes) -> None:
    try:
        update = decode_status(topic, payload, RECEIVED, DEVICES.get)
    except InvalidInput as exc:
        assert isinstance(exc.reason, RejectReason) and exc.detail and len(exc.detail) < 300
    else:
        assert update.ts.tzinfo is not None and update.device_id in DEVICES


@FUZZ
@given(topic=topics, payload=st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes) -> None:
    check_decoded(topic, payload)


@FUZZ
@given(topic=topics, body=json_values)
def test_arbitrary_json_never_raises(topic: str, body: Any) -> None:
    check_decoded(topic, json.dumps(body).encode())


@FUZZ
@given(topic=topics, payload=payloads())
@example("ioc/v1/traffic/traffic-1/telemetry", b'{"ts": true, "readings": {"vehicle_count": 1}}')
@example("ioc/v1/traffic/traffic-1/telemetry", b"[" * (MAX_PAYLOAD_BYTES - 1))
@example(
    "ioc/v1/traffic/traffic-1/telemetry",
    b'{"ts": "2026-11-23T10:00:00Z", "readings": {"vehicle_count": ' + b"1" * 4301 + b"}}",
)
def test_hostile_payloads_never_raise(topic: str, payload: bytes) -> None:
    check_decoded(topic, payload)


@FUZZ
@given(topic=status_topics, payload=st.one_of(payloads(), st.binary(max_size=256)))
@example("ioc/v1/traffic/traffic-1/status", b'{"state": "online", "ts": true}')
@example("ioc/v1/traffic/traffic-1/status", b'{"state": "online", "ts": ' + b"1" * 4301 + b"}")
@example(
    "ioc/v1/traffic/traffic-1/status", b'{"state": "online", "ts": "9999-12-31T23:59:59-01:00"}'
)
def test_status_decodes_or_names_its_reason(topic: str, payload: bytes) -> None:
    check_status(topic, payload)


@FUZZ
@given(state=st.sampled_from(["online", "offline"]), ts=ts_texts)
def test_status_with_any_timestamp_decodes_or_names_its_reason(state: str, ts: str) -> None:
    check_status("ioc/v1/health/health-1/status", f'{{"state": "{state}", "ts": {ts}}}'.encode())
