"""Turn a batch of received MQTT messages into what to write: pure, no I/O.

Telemetry is decoded message by message; readings are de-duplicated across the batch
(the first copy wins, later copies become ``duplicate`` dead letters); rejections are
grouped into one dead-letter row per message and reason, with the raw payload capped.

One message can never stop the batch: should decoding it raise anything at all (a gap
in the decoder), that message alone becomes an ``invalid_payload`` dead letter saying
so, and the others go on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ioc.errors import InvalidInput
from ioc.mqtt.types import Delivery
from ioc.storage.readings import DeadLetter
from ioc.telemetry.decoder import (
    DecodePolicy,
    DeviceLookup,
    StatusUpdate,
    decode_status,
    decode_telemetry,
)
from ioc.telemetry.topics import PREFIX
from ioc.types import Reading, Rejection, RejectReason

#: How much of a refused payload is kept in ``dead_letters.payload``.
PAYLOAD_CAP = 4096
_MAX_DETAILS = 5


#: One message as the MQTT consumer handed it over.
Inbound = Delivery


@dataclass(slots=True)
class BatchPlan:
    readings: list[tuple[Reading, int]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    #: rejected items by reason (readings, samples or whole messages)
    rejected: dict[RejectReason, int] = field(default_factory=lambda: defaultdict(int))
    telemetry: int = 0
    status: int = 0
    #: readings dropped as in-batch duplicates, per message index
    in_batch_duplicates: dict[int, int] = field(default_factory=dict)
    #: (time, device, metric) of every reading kept: the first copy wins
    seen: set[tuple[datetime, str, str]] = field(default_factory=set)


def dead_letter(
    msg: Inbound,
    device_id: str | None,
    reason: RejectReason,
    rejections: Sequence[Rejection],
    count: int | None = None,
) -> DeadLetter:
    details = [_describe(r) for r in rejections[:_MAX_DETAILS]]
    if len(rejections) > _MAX_DETAILS:
        details.append(f"… and {len(rejections) - _MAX_DETAILS} more")
    return DeadLetter(
        received_at=msg.received_at,
        topic=msg.topic,
        device_id=device_id,
        reason=reason,
        count=len(rejections) if count is None else count,
        detail="; ".join(details),
        payload=msg.payload[:PAYLOAD_CAP],
        payload_bytes=len(msg.payload),
    )


def _describe(r: Rejection) -> str:
    where = f"sample {r.sample}: " if r.sample is not None and r.sample > 0 else ""
    return where + r.detail


def device_of_topic(topic: str) -> str | None:
    """The device id of a topic that may not parse, for filing its dead letters."""
    parts = topic.split("/")
    return parts[3] if len(parts) == 5 and topic.startswith(PREFIX + "/") else None


def plan_batch(
    messages: Sequence[Inbound], devices: DeviceLookup, policy: DecodePolicy
) -> BatchPlan:
    plan = BatchPlan()
    for index, msg in enumerate(messages):
        try:
            _plan_message(plan, index, msg, devices, policy)
        except Exception as exc:  # a decoder bug must cost one message, not the service
            why = Rejection(
                RejectReason.INVALID_PAYLOAD,
                f"the decoder failed on it: {type(exc).__name__}: {str(exc)[:200]}",
            )
            plan.rejected[RejectReason.INVALID_PAYLOAD] += 1
            plan.dead_letters.append(
                dead_letter(msg, device_of_topic(msg.topic), RejectReason.INVALID_PAYLOAD, [why])
            )
    plan.seen.clear()  # only needed while planning
    return plan


def _plan_message(
    plan: BatchPlan, index: int, msg: Inbound, devices: DeviceLookup, policy: DecodePolicy
) -> None:
    """Add one message's readings, status or dead letters to the plan; all or nothing
    (everything is decoded before the plan is touched)."""
    if msg.topic.endswith("/status"):
        if not msg.payload:  # a retained status being cleared: nothing to record
            plan.status += 1
            return
        try:
            update = decode_status(msg.topic, msg.payload, msg.received_at, devices)
        except InvalidInput as exc:
            plan.status += 1
            plan.rejected[exc.reason] += 1
            plan.dead_letters.append(
                dead_letter(
                    msg, device_of_topic(msg.topic), exc.reason, [Rejection(exc.reason, exc.detail)]
                )
            )
            return
        plan.status += 1
        plan.statuses.append(update)
        return
    decoded = decode_telemetry(msg.topic, msg.payload, msg.received_at, devices, policy)
    by_reason: dict[RejectReason, list[Rejection]] = defaultdict(list)
    for rejection in decoded.rejections:
        by_reason[rejection.reason].append(rejection)
    letters = [
        dead_letter(msg, decoded.device_id or device_of_topic(msg.topic), reason, items)
        for reason, items in by_reason.items()
    ]
    plan.telemetry += 1
    _keep(plan, index, decoded.readings)
    for reason, items in by_reason.items():
        plan.rejected[reason] += len(items)
    plan.dead_letters.extend(letters)


def _keep(plan: BatchPlan, index: int, readings: Sequence[Reading]) -> None:
    """Add readings unless the batch already has their (device, metric, time); count
    the copies per message (the first copy wins): de-duplicated in the one pass."""
    seen = plan.seen
    kept = plan.readings
    dropped = 0
    for reading in readings:
        key = reading[:3]
        if key in seen:
            dropped += 1
        else:
            seen.add(key)
            kept.append((reading, index))
    if dropped:
        plan.in_batch_duplicates[index] = plan.in_batch_duplicates.get(index, 0) + dropped


def duplicate_letters(
    messages: Sequence[Inbound], duplicates: dict[int, int]
) -> tuple[list[DeadLetter], int]:
    """Dead letters for readings that were already stored, and how many were our own
    redeliveries (not dead-lettered: the device did nothing wrong)."""
    letters: list[DeadLetter] = []
    redelivered = 0
    for index, count in sorted(duplicates.items()):
        msg = messages[index]
        if msg.redelivered:
            redelivered += count
            continue
        why = Rejection(
            RejectReason.DUPLICATE,
            f"{count} reading(s) already stored for the same device, metric and time",
        )
        letters.append(
            dead_letter(msg, device_of_topic(msg.topic), RejectReason.DUPLICATE, [why], count)
        )
    return letters, redelivered
