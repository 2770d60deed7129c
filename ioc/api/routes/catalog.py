"""The metric catalog, as the one source of truth has it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ioc.api.deps import Viewer
from ioc.api.problems import responses
from ioc.telemetry.catalog import CATALOG

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get(
    "/catalog",
    summary="Per domain, each metric's name, unit, description and ranges",
    responses=responses(401, 403),
)
def catalog(_: Viewer) -> dict[str, list[dict[str, Any]]]:
    return CATALOG.as_dict()
