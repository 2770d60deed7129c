"""Liveness and readiness: the two routes without a key."""

from __future__ import annotations

import socket

from fastapi import APIRouter

from ioc.api.deps import AppSettings, Db
from ioc.api.models import Health, Ready
from ioc.api.problems import responses
from ioc.errors import BrokerUnavailable

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="The process is up")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="The database and the broker are reachable",
    responses=responses(503),
)
def ready(db: Db, settings: AppSettings) -> Ready:
    with db.connect():
        pass  # a checkout runs the pool's liveness check against the server
    mqtt = settings.mqtt
    try:
        socket.create_connection((mqtt.host, mqtt.port), timeout=2).close()
    except OSError as exc:
        raise BrokerUnavailable(f"broker {mqtt.host}:{mqtt.port}: {exc}") from exc
    return Ready(status="ready", database=True, broker=True)
