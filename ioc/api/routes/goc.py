"""The indicator report, for the GOC to pull (the same report that is pushed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ioc.api.deps import AppSettings, Db, Goc, now
from ioc.api.problems import responses
from ioc.goc.report import REPORT_SCHEMA, build_report, period_end

router = APIRouter(prefix="/api/v1/goc", tags=["goc"])


@router.get(
    "/report",
    summary="The indicator report of the last complete period",
    description=f"Schema `{REPORT_SCHEMA}`, documented in docs/goc.md; the same document "
    "the connector pushes (signed) to the GOC each period.",
    responses=responses(401, 403, 503),
)
def report(_: Goc, db: Db, settings: AppSettings) -> dict[str, Any]:
    at = now()
    interval = settings.goc_report_interval_s
    with db.connect() as conn:
        return build_report(conn, settings.center_id, period_end(at, interval), interval, at)
