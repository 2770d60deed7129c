"""Alert rules: read by viewers, written by admins through the authoring use cases
(:mod:`ioc.alerts.authoring`: every write audited in its own transaction)."""

from __future__ import annotations

from fastapi import APIRouter, status

from ioc.alerts import authoring, store
from ioc.alerts.models import Rule, RuleSpec
from ioc.api.deps import Admin, Db, RuleId, Viewer
from ioc.api.problems import responses
from ioc.types import Domain

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])


@router.get("", response_model=list[Rule], summary="Every rule", responses=responses(401, 403))
def list_rules(
    _: Viewer, db: Db, domain: Domain | None = None, enabled: bool | None = None
) -> list[Rule]:
    with db.connect() as conn:
        return store.list_rules(conn, domain=domain, enabled=enabled)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Rule,
    summary="Create a rule",
    responses=responses(401, 403, 409, 422),
)
def create_rule(spec: RuleSpec, who: Admin, db: Db) -> Rule:
    with db.connect() as conn:
        return authoring.create_rule(conn, who.actor, spec)


@router.put(
    "/{rule_id}",
    response_model=Rule,
    summary="Replace a rule's definition",
    responses=responses(401, 403, 404, 409, 422),
)
def update_rule(rule_id: RuleId, spec: RuleSpec, who: Admin, db: Db) -> Rule:
    with db.connect() as conn:
        return authoring.update_rule(conn, who.actor, rule_id, spec)


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule (its open alerts are resolved)",
    responses=responses(401, 403, 404, 422),
)
def delete_rule(rule_id: RuleId, who: Admin, db: Db) -> None:
    with db.connect() as conn:
        authoring.delete_rule(conn, who.actor, rule_id)
