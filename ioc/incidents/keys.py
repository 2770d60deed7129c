"""Which incident an alert belongs to: the correlation key of (policy, alert), and the
title an incident's policy gives it.

After alertmanager's ``group_by`` fingerprint: the policy's name and the alert's values
of the policy's ``group_by`` fields, in a readable string (``district-silence|district=D1``)
that a database can hold under a unique index.
"""

from __future__ import annotations

from collections.abc import Sequence

from ioc.incidents.models import GroupField, Policy
from ioc.incidents.state import AlertTransition, Member

#: The policy of an alert no policy takes: an incident of its own.
OWN = Policy(name="own", title="{rule}: {subject}", group_by=("alert",), window_s=0)


def field_value(t: AlertTransition, name: GroupField) -> str | None:
    if name == "district":
        return t.district
    if name == "domain":
        return t.domain
    if name == "rule":
        return str(t.rule_id)
    if name == "subject":
        return t.subject
    if name == "device":
        return t.device_id
    return str(t.alert_id)


def key_of(policy: Policy, t: AlertTransition) -> str | None:
    """The alert's key under ``policy``, or None when the policy does not take it."""
    if not policy.match.admits(t.rule_kind, t.domain, t.rule_name):
        return None
    parts = [policy.name]
    for name in policy.group_by:
        value = field_value(t, name)
        if value is None:
            return None
        parts.append(f"{name}={value}")
    return "|".join(parts)


def assign(policies: Sequence[Policy], t: AlertTransition) -> tuple[Policy, str]:
    """The first policy that takes the alert, and its key (:data:`OWN` if none does)."""
    for policy in policies:
        key = key_of(policy, t)
        if key is not None:
            return policy, key
    key = key_of(OWN, t)
    assert key is not None
    return OWN, key


def first(members: Sequence[Member]) -> Member:
    """The incident's first alert: the earliest, the lowest id on a tie (so the choice
    does not depend on the order alerts arrived in)."""
    return min(members, key=lambda m: (m.since, m.alert_id))


def render_title(template: str, members: Sequence[Member]) -> str:
    """The policy's title over the incident's alerts; lists are sorted and joined."""
    lead = first(members)
    values = {
        "district": ", ".join(sorted({m.district for m in members if m.district})) or "-",
        "domain": ", ".join(sorted({m.domain for m in members})),
        "rule": lead.rule_name,
        "subject": lead.subject,
        "device_count": str(len({m.device_id for m in members if m.device_id})),
        "alert_count": str(len(members)),
    }
    return template.format_map(values)
