"""Alert transitions for the incident tests, with the default rules' names and kinds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ioc.incidents.correlate import Outcome, correlate
from ioc.incidents.defaults import default_catalogue
from ioc.incidents.models import Catalogue
from ioc.incidents.state import AlertTransition, Board

#: rule name → (id, kind, domain, severity), as the default rules have them
RULES: dict[str, tuple[int, str, str, str]] = {
    "Traffic: district speed collapse": (1, "group", "traffic", "major"),
    "Traffic: junction jammed": (2, "threshold", "traffic", "minor"),
    "Traffic: queue spill-back": (3, "threshold", "traffic", "major"),
    "Traffic: counter silent": (4, "absence", "traffic", "minor"),
    "Energy: feeder overloaded": (5, "threshold", "energy", "critical"),
    "Energy: undervoltage": (6, "threshold", "energy", "major"),
    "Energy: meter silent": (10, "absence", "energy", "major"),
    "Agriculture: field flooding": (11, "threshold", "agriculture", "major"),
    "Agriculture: saline water": (12, "threshold", "agriculture", "major"),
    "Agriculture: heavy rainfall": (13, "threshold", "agriculture", "minor"),
    "Agriculture: sensor silent": (15, "absence", "agriculture", "minor"),
    "Health: vaccine fridge warm": (16, "threshold", "health", "critical"),
    "Health: beds nearly full": (19, "threshold", "health", "major"),
    "Health: device silent": (22, "absence", "health", "major"),
}
SILENT = {
    "traffic": "Traffic: counter silent",
    "energy": "Energy: meter silent",
    "agriculture": "Agriculture: sensor silent",
    "health": "Health: device silent",
}


def tr(
    alert_id: int,
    rule: str,
    at: float,
    action: str = "opened",
    device: str | None = None,
    district: str | None = "D1",
    **over: Any,
) -> AlertTransition:
    """A transition of alert ``alert_id`` of the default rule named ``rule``; a group
    rule's subject is its district, a device rule's its device (``dev-<alert id>``)."""
    rule_id, kind, domain, severity = RULES[rule]
    if kind == "group":
        subject, device_id = f"district:{district}", None
    else:
        device_id = device or f"dev-{alert_id}"
        subject = device_id
    fields: dict[str, Any] = {
        "alert_id": alert_id,
        "rule_id": rule_id,
        "rule_name": rule,
        "rule_kind": kind,
        "subject": subject,
        "device_id": device_id,
        "domain": domain,
        "district": district,
        "severity": severity,
        "action": action,
        "at": float(at),
        "value": None,
    }
    fields.update(over)
    return AlertTransition(**fields)


def run(
    transitions: Iterable[AlertTransition],
    board: Board | None = None,
    catalogue: Catalogue | None = None,
) -> Outcome:
    return correlate(catalogue or default_catalogue(), board or Board(), transitions)


def partition(board: Board) -> set[frozenset[int]]:
    """Which alerts are together: the incidents as sets of alert ids."""
    return {frozenset(i.alert_ids) for i in board.incidents.values()}
