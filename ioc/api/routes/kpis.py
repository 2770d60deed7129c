"""Indicators per domain and district (computed by :mod:`ioc.kpis.figures`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ioc.api.deps import Db, Viewer, now
from ioc.api.models import KpiGroup, Kpis
from ioc.api.problems import responses
from ioc.kpis import figures
from ioc.types import Domain

router = APIRouter(prefix="/api/v1", tags=["kpis"])


@router.get(
    "/kpis",
    response_model=Kpis,
    summary="Indicators per domain and district",
    description="Devices registered, online and reporting (heard from within their "
    "domain's expected report interval, and not silent by an absence alert), data "
    "freshness, open alerts by severity and their age, mean time to acknowledge and to "
    "resolve (last 7 days), and each domain's own indicators.",
    responses=responses(401, 403, 422),
)
def kpis(
    _: Viewer,
    db: Db,
    domain: Domain | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
) -> Kpis:
    at = now()
    with db.connect() as conn:
        groups = figures.compute(conn, at, domain=domain, district=district)
    return Kpis(generated_at=at, groups=[KpiGroup(**g) for g in groups])
