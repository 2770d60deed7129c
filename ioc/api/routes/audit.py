"""The audit log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ioc.api.deps import Admin, Db
from ioc.api.problems import responses
from ioc.security import audit
from ioc.security.audit import AuditEntry

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    summary="Every change: who, what, when, from where (newest first)",
    responses=responses(401, 403, 422),
)
def audit_log(
    _: Admin,
    db: Db,
    target: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    with db.connect() as conn:
        return audit.entries(conn, target=target, action=action, limit=limit)
