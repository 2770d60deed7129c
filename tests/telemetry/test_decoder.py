"""The decoder against a corpus of hostile payloads: one row per case, with the reasons
it must give and how many readings must survive (tests/telemetry/hostile_payloads.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ioc.errors import BadTimestamp, DecommissionedDevice, InvalidInput, MalformedJSON
from ioc.telemetry.decoder import DecodePolicy, DeviceRecord, decode_status, decode_telemetry
from ioc.telemetry.payloads import MAX_PAYLOAD_BYTES, format_timestamp, parse_timestamp
from ioc.types import RejectReason

RECEIVED = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
DEVICES = {
    "cam-1": DeviceRecord("cam-1", "traffic"),
    "old-1": DeviceRecord("old-1", "traffic", decommissioned=True),
}
CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "hostile_payloads.json").read_text()
)


def payload_of(case: dict[str, Any]) -> bytes:
    if case.get("oversized"):
        filler = "x" * MAX_PAYLOAD_BYTES
        return json.dumps(
            {"ts": "2026-11-23T10:00:00Z", "readings": {"vehicle_count": 1}, "note": filler}
        ).encode()
    if "payload_hex" in case:
        return bytes.fromhex(case["payload_hex"])
    text = str(case["payload"])
    for marker, (unit, times) in case.get("repeat", {}).items():
        text = text.replace(marker, unit * times)  # 4,301 digits, 20,000 brackets
    return text.encode()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_corpus(case: dict[str, Any]) -> None:
    decoded = decode_telemetry(case["topic"], payload_of(case), RECEIVED, DEVICES.get)
    assert [r.reason.value for r in decoded.rejections] == case["reasons"]
    assert len(decoded.readings) == case["stored"]
    assert all(r.detail for r in decoded.rejections)
    for r in decoded.rejections:  # fit for a text column: short, no NUL, no lone surrogate
        assert len(r.detail) < 300 and "\x00" not in r.detail
        r.detail.encode("utf-8")
    assert all(str(r.value) != "-0.0" for r in decoded.readings)


def test_good_readings_keep_device_metric_time_and_value() -> None:
    payload = (
        b'{"ts": "2026-11-23T10:00:00.120Z", "seq": 17,'
        b' "readings": {"vehicle_count": 42, "avg_speed_kmh": 31.5}}'
    )
    decoded = decode_telemetry("ioc/v1/traffic/cam-1/telemetry", payload, RECEIVED, DEVICES.get)
    ts = datetime(2026, 11, 23, 10, 0, 0, 120000, tzinfo=UTC)
    assert [(r.time, r.device_id, r.metric, r.value) for r in decoded.readings] == [
        (ts, "cam-1", "vehicle_count", 42.0),
        (ts, "cam-1", "avg_speed_kmh", 31.5),
    ]
    assert decoded.seqs == [17]
    assert decoded.rejections == []


def test_rejection_points_at_the_sample_and_metric() -> None:
    payload = json.dumps(
        {
            "batch": [
                {"ts": "2026-11-23T09:00:00Z", "readings": {"vehicle_count": 1}},
                {
                    "ts": "2026-11-23T09:01:00Z",
                    "readings": {"vehicle_count": 1, "avg_speed_kmh": -5},
                },
            ]
        }
    ).encode()
    decoded = decode_telemetry("ioc/v1/traffic/cam-1/telemetry", payload, RECEIVED, DEVICES.get)
    (rejection,) = decoded.rejections
    assert (rejection.reason, rejection.sample, rejection.metric) == (
        RejectReason.OUT_OF_RANGE,
        1,
        "avg_speed_kmh",
    )
    assert decoded.samples == 2


def test_clock_skew_within_tolerance_is_accepted_beyond_is_refused() -> None:
    policy = DecodePolicy(max_future=timedelta(minutes=5))
    topic = "ioc/v1/traffic/cam-1/telemetry"
    ahead = [format_timestamp(RECEIVED + timedelta(minutes=m)) for m in (4, 6)]
    ok = decode_telemetry(
        topic,
        json.dumps({"ts": ahead[0], "readings": {"vehicle_count": 1}}).encode(),
        RECEIVED,
        DEVICES.get,
        policy,
    )
    bad = decode_telemetry(
        topic,
        json.dumps({"ts": ahead[1], "readings": {"vehicle_count": 1}}).encode(),
        RECEIVED,
        DEVICES.get,
        policy,
    )
    assert len(ok.readings) == 1 and not ok.rejections
    assert [r.reason for r in bad.rejections] == [RejectReason.FUTURE_TIMESTAMP]


def test_every_catalog_bound_is_inclusive() -> None:
    from ioc.telemetry.catalog import CATALOG

    for domain, metrics in CATALOG.items():
        device = DeviceRecord("dev-1", domain)
        for metric in metrics.values():
            for value, accepted in (
                (metric.min, True),
                (metric.max, True),
                (metric.max + abs(metric.max) * 0.01 + 1, False),
            ):
                payload = json.dumps(
                    {"ts": "2026-11-23T10:00:00Z", "readings": {metric.name: value}}
                ).encode()
                decoded = decode_telemetry(
                    f"ioc/v1/{domain}/dev-1/telemetry", payload, RECEIVED, {"dev-1": device}.get
                )
                assert (len(decoded.readings) == 1) is accepted, (metric.name, value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23T10:00:00.120Z", datetime(2026, 11, 23, 10, 0, 0, 120000, tzinfo=UTC)),
        ("2026-11-23T17:00:00+07:00", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("2026-11-23t10:00:00z", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        (1795428000000, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(raw: object, expected: datetime) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["2026-11-23", "2026-11-23T10:00:00", True, 1.5, None, "", 10**30])
def test_parse_timestamp_refuses(raw: object) -> None:
    with pytest.raises(BadTimestamp):
        parse_timestamp(raw)


def test_status_online_offline_and_refusals() -> None:
    update = decode_status(
        "ioc/v1/traffic/cam-1/status",
        b'{"state": "offline", "ts": "2026-11-23T09:59:00Z"}',
        RECEIVED,
        DEVICES.get,
    )
    assert (update.device_id, update.online, update.ts) == (
        "cam-1",
        False,
        datetime(2026, 11, 23, 9, 59, tzinfo=UTC),
    )
    assert (
        decode_status(
            "ioc/v1/traffic/cam-1/status", b'{"state": "online"}', RECEIVED, DEVICES.get
        ).ts
        == RECEIVED
    )
    with pytest.raises(MalformedJSON):
        decode_status("ioc/v1/traffic/cam-1/status", b"online", RECEIVED, DEVICES.get)
    with pytest.raises(DecommissionedDevice):
        decode_status("ioc/v1/traffic/old-1/status", b'{"state": "online"}', RECEIVED, DEVICES.get)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"state": "online", "ts": true}', RejectReason.BAD_TIMESTAMP),
        (b'{"state": "online", "ts": ' + b"1" * 4301 + b"}", RejectReason.BAD_TIMESTAMP),
        (b'{"state": "online", "ts": "9999-12-31T23:59:59-01:00"}', RejectReason.BAD_TIMESTAMP),
        (b'{"state": true}', RejectReason.INVALID_PAYLOAD),
        (b"[" * 20000, RejectReason.MALFORMED_JSON),
        (b'{"state": "online"\xff}', RejectReason.MALFORMED_JSON),
    ],
)
def test_status_refusals_name_their_reason(payload: bytes, reason: RejectReason) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_status("ioc/v1/traffic/cam-1/status", payload, RECEIVED, DEVICES.get)
    assert refused.value.reason is reason
