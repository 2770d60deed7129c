"""The shapes and words the IOC passes around: domains, severities, states, event kinds,
the device-id pattern, readings, dead-letter reasons, rejections.

One home for the vocabulary, so that ingest, the simulator, the alert engine, the API
and the dashboards mean the same thing by the same word; nothing else spells these out.
Closed sets of words are ``Literal`` types with their tuple beside them: mypy checks a
misspelt word at its call site, pydantic validates it at the edge, and the OpenAPI schema
lists the values inline. The metric catalog (:mod:`ioc.telemetry.catalog`) stays the
source for metric names, units and ranges.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple, get_args

#: The four domains of the MQTT contract (``ioc/v1/{domain}/...``).
Domain = Literal["traffic", "energy", "agriculture", "health"]
DOMAINS: tuple[Domain, ...] = get_args(Domain)

#: Alert and incident severities, lowest first: the order IS the ranking.
Severity = Literal["info", "minor", "major", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
#: Highest first, for reports and lists that lead with what matters most.
SEVERITIES_DESC: tuple[Severity, ...] = tuple(reversed(SEVERITIES))


def severity_rank(severity: str) -> int:
    """0 for ``info`` up to 3 for ``critical``; ValueError for anything else."""
    return SEVERITIES.index(severity)


AlertState = Literal["firing", "acknowledged", "resolved"]
ALERT_STATES: tuple[AlertState, ...] = get_args(AlertState)

IncidentState = Literal["open", "acknowledged", "resolved", "closed"]
INCIDENT_STATES: tuple[IncidentState, ...] = get_args(IncidentState)

#: Kinds of the live event stream (``events`` table, ``GET /api/v1/events``) and of the
#: outbox rows written for them.
EventKind = Literal[
    "alert.opened",
    "alert.acknowledged",
    "alert.resolved",
    "device.online",
    "device.offline",
    "incident.opened",
    "incident.updated",
    "incident.acknowledged",
    "incident.escalated",
    "incident.resolved",
    "incident.closed",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
ALERT_EVENT_KINDS: tuple[EventKind, ...] = tuple(k for k in EVENT_KINDS if k.startswith("alert."))
INCIDENT_EVENT_KINDS: tuple[EventKind, ...] = tuple(
    k for k in EVENT_KINDS if k.startswith("incident.")
)

#: A device id as the MQTT contract allows it (a regular expression, unanchored).
DEVICE_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"


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
