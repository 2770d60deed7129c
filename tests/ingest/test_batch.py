"""The pure batch planner: decoding, de-duplication, dead letters, with no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest import batch as batch_module
from ingest.batch import (
    PAYLOAD_CAP,
    Inbound,
    dead_letter,
    device_of_topic,
    duplicate_letters,
    plan_batch,
)
from ioc.telemetry.decoder import DecodePolicy, DeviceRecord
from ioc.types import Rejection, RejectReason

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = DecodePolicy(max_future=timedelta(minutes=5), max_age=timedelta(days=30))
DEVICES = {"tc-1": DeviceRecord("tc-1", "traffic"), "tc-2": DeviceRecord("tc-2", "traffic")}
TOPIC = "ioc/v1/traffic/tc-1/telemetry"


def msg(topic: str, payload: bytes | str | dict[str, object], **kw: object) -> Inbound:
    body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    raw = body.encode() if isinstance(body, str) else body
    return Inbound(topic=topic, payload=raw, received_at=NOW, **kw)  # type: ignore[arg-type]


def sample(offset_s: int = 0, **readings: float) -> dict[str, object]:
    at = (NOW - timedelta(seconds=offset_s)).isoformat()
    return {"ts": at, "readings": readings or {"vehicle_count": 4}}


def plan(*messages: Inbound) -> batch_module.BatchPlan:
    return plan_batch(messages, DEVICES.get, POLICY)


def test_good_readings_and_bad_ones_of_one_payload_are_split() -> None:
    p = plan(msg(TOPIC, sample(vehicle_count=4, avg_speed_kmh=-5, nonsense=1)))
    assert [r.metric for r, _ in p.readings] == ["vehicle_count"]
    assert {d.reason for d in p.dead_letters} == {
        RejectReason.OUT_OF_RANGE,
        RejectReason.UNKNOWN_METRIC,
    }
    assert p.telemetry == 1 and p.status == 0
    assert p.rejected[RejectReason.OUT_OF_RANGE] == 1


def test_a_reading_repeated_in_the_batch_is_kept_once_and_counted_per_message() -> None:
    p = plan(msg(TOPIC, sample()), msg(TOPIC, sample()), msg(TOPIC, sample(offset_s=1)))
    assert len(p.readings) == 2
    assert p.in_batch_duplicates == {1: 1}


@pytest.mark.parametrize(
    "topic",
    [
        "ioc/v1/traffic/tc-1/telemetry/x",
        "ioc/v1/traffic/tc-1/metrics",
        "ioc/v1/traffic",
        "ioc/v1/traffic/bad id!/telemetry",
    ],
)
def test_a_topic_outside_the_contract_is_a_bad_topic_dead_letter(topic: str) -> None:
    p = plan(msg(topic, sample()), msg(TOPIC, sample()))
    assert [d.reason for d in p.dead_letters] == [RejectReason.BAD_TOPIC]
    assert len(p.readings) == 1  # the good neighbour is untouched
    assert p.dead_letters[0].topic == topic


def test_a_malformed_status_topic_is_dead_lettered_too() -> None:
    p = plan(msg("ioc/v1/traffic/status", {"state": "online", "ts": NOW.isoformat()}))
    assert [d.reason for d in p.dead_letters] == [RejectReason.BAD_TOPIC]
    assert p.statuses == []


def test_status_updates_and_cleared_retained_statuses() -> None:
    status = "ioc/v1/traffic/tc-2/status"
    p = plan(msg(status, {"state": "offline", "ts": NOW.isoformat()}), msg(status, b""))
    assert [(s.device_id, s.online) for s in p.statuses] == [("tc-2", False)]
    assert p.status == 2 and p.dead_letters == []


def test_a_decoder_that_raises_costs_its_message_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = batch_module.decode_telemetry

    def flaky(topic: str, payload: bytes, *args: object, **kw: object) -> object:
        if b"boom" in payload:
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        return real(topic, payload, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "decode_telemetry", flaky)
    p = plan(msg(TOPIC, sample()), msg(TOPIC, b'{"boom": 1}'), msg(TOPIC, sample(offset_s=2)))
    assert len(p.readings) == 2
    [letter] = p.dead_letters
    assert letter.reason is RejectReason.INVALID_PAYLOAD
    assert "decoder failed" in letter.detail and "4300 digits" in letter.detail
    assert letter.device_id == "tc-1"
    assert p.rejected[RejectReason.INVALID_PAYLOAD] == 1
    # the failed message's index is not counted as telemetry handled twice
    assert p.telemetry == 2


def test_a_huge_integer_never_escapes_the_planner() -> None:
    payload = b'{"ts": "' + NOW.isoformat().encode() + b'", "readings": {"vehicle_count": '
    p = plan(msg(TOPIC, payload + b"9" * 4301 + b"}}"), msg(TOPIC, sample()))
    assert len(p.readings) == 1
    assert len(p.dead_letters) == 1


def test_dead_letter_caps_the_payload_and_lists_at_most_five_details() -> None:
    big = msg(TOPIC, b"x" * (PAYLOAD_CAP + 10))
    why = [Rejection(RejectReason.OUT_OF_RANGE, f"r{i}") for i in range(7)]
    letter = dead_letter(big, "tc-1", RejectReason.OUT_OF_RANGE, why)
    assert letter.payload is not None and len(letter.payload) == PAYLOAD_CAP
    assert letter.payload_bytes == PAYLOAD_CAP + 10
    assert letter.count == 7
    assert letter.detail.endswith("… and 2 more") and letter.detail.count(";") == 5


@pytest.mark.parametrize(
    ("topic", "device"),
    [
        (TOPIC, "tc-1"),
        ("ioc/v1/traffic/tc-1/telemetry/x", None),
        ("other/v1/traffic/tc-1/telemetry", None),
    ],
)
def test_device_of_topic(topic: str, device: str | None) -> None:
    assert device_of_topic(topic) == device


def test_duplicates_of_our_own_redelivery_are_counted_not_dead_lettered() -> None:
    messages = [msg(TOPIC, sample()), msg(TOPIC, sample(), redelivered=True)]
    letters, redelivered = duplicate_letters(messages, {0: 2, 1: 3})
    assert redelivered == 3
    [letter] = letters
    assert letter.reason is RejectReason.DUPLICATE and letter.count == 2
