"""Use cases of rule authoring: create, replace, delete a rule, each with its audit
entry in the same transaction (a deleted rule's open alerts are resolved in it too)."""

from __future__ import annotations

from ioc.alerts import store
from ioc.alerts.models import Rule, RuleSpec
from ioc.security import audit
from ioc.security.audit import Actor
from ioc.storage.db import Connection, translated


def create_rule(conn: Connection, actor: Actor, spec: RuleSpec) -> Rule:
    """A new rule; Conflict when its name is taken."""
    with translated(), conn.transaction():
        rule = store.create_rule(conn, spec)
        audit.record(conn, actor, "rule.create", f"rule:{rule.id}", spec.model_dump(mode="json"))
    return rule


def update_rule(conn: Connection, actor: Actor, rule_id: int, spec: RuleSpec) -> Rule:
    """Replace a rule's definition; NotFound for an unknown id, Conflict for a taken name."""
    with translated(), conn.transaction():
        rule = store.update_rule(conn, rule_id, spec)
        audit.record(conn, actor, "rule.update", f"rule:{rule_id}", spec.model_dump(mode="json"))
    return rule


def delete_rule(conn: Connection, actor: Actor, rule_id: int) -> None:
    """Delete a rule and resolve its open alerts (by the actor); NotFound if unknown."""
    with translated(), conn.transaction():
        store.delete_rule(conn, rule_id, who=actor.label)
        audit.record(conn, actor, "rule.delete", f"rule:{rule_id}")
