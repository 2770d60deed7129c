"""The device registry: register (with broker credentials, shown once), list, read,
decommission (credentials revoked at once), latest values and bucketed series.

Registration and decommissioning are the enrolment use cases
(:mod:`ioc.security.enrolment`); reads go to the registry and series owners."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from ioc.api.deps import Accounts, Admin, AppSettings, Db, Viewer, now
from ioc.api.models import (
    BrokerCredentials,
    Device,
    DeviceIn,
    LatestValue,
    Page,
    RegisteredDevice,
    Series,
)
from ioc.api.problems import responses
from ioc.errors import InvalidInput
from ioc.security import enrolment
from ioc.storage import registry
from ioc.storage import series as series_store
from ioc.storage.registry import DeviceFilter, NewDevice
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.topics import PREFIX, status_topic, telemetry_topic
from ioc.types import Domain

log = logging.getLogger("ioc.api.devices")

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisteredDevice,
    summary="Register a device and create its broker credentials",
    description="The password is returned once and only its hash is kept. The broker account"
    " is bound to client id = device id and may publish only the device's own"
    " `ioc/v1/{domain}/{device_id}/telemetry` and `/status`.",
    responses=responses(401, 403, 409, 422, 503),
)
def register(body: DeviceIn, who: Admin, db: Db, accounts: Accounts) -> RegisteredDevice:
    with db.connect() as conn:
        enrolled = enrolment.register(conn, who.actor, NewDevice(**body.model_dump()), accounts)
    password = enrolled.password
    log.info("device registered", extra={"device_id": body.device_id, "actor": who.actor.label})
    credentials = (
        None
        if password is None
        else BrokerCredentials(
            username=body.device_id,
            password=password,
            publish_topics=f"{PREFIX}/{body.domain}/{body.device_id}/+",
            topics=[
                telemetry_topic(body.domain, body.device_id),
                status_topic(body.domain, body.device_id),
            ],
        )
    )
    return RegisteredDevice(device=Device(**enrolled.device), credentials=credentials)


@router.get(
    "",
    response_model=Page[Device],
    summary="The registry, with online state and last seen",
    responses=responses(401, 403, 422),
)
def list_devices(
    _: Viewer,
    db: Db,
    domain: Domain | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    decommissioned: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[Device]:
    with db.connect() as conn:
        rows, total = registry.list_devices(
            conn, DeviceFilter(domain, district, decommissioned), limit=limit, offset=offset
        )
    return Page[Device].of([Device(**r) for r in rows], total, limit, offset)


@router.get(
    "/{device_id}",
    response_model=Device,
    summary="One device",
    responses=responses(401, 403, 404, 422),
)
def get_device(device_id: str, _: Viewer, db: Db) -> Device:
    with db.connect() as conn:
        return Device(**registry.get_device(conn, device_id))


@router.delete(
    "/{device_id}",
    response_model=Device,
    summary="Decommission a device; its broker credentials stop working at once",
    responses=responses(401, 403, 404, 409, 503),
)
def decommission(device_id: str, who: Admin, db: Db, accounts: Accounts) -> Device:
    with db.connect() as conn:
        row = enrolment.decommission(conn, who.actor, device_id, accounts)
    log.info("device decommissioned", extra={"device_id": device_id, "actor": who.actor.label})
    return Device(**row)


@router.get(
    "/{device_id}/latest",
    response_model=dict[str, LatestValue],
    summary="Latest value of each metric: {metric: {value, ts}}",
    responses=responses(401, 403, 404),
)
def latest(device_id: str, _: Viewer, db: Db) -> dict[str, LatestValue]:
    with db.connect() as conn:
        registry.get_device(conn, device_id)  # 404 for an unknown device
        values = series_store.latest_values(conn, device_id)
    return {m: LatestValue(**v) for m, v in values.items()}


@router.get(
    "/{device_id}/series",
    response_model=Series,
    summary="A metric's time series, bucketed",
    description="`bucket` like `30s`, `1m`, `15m`, `1h`, `1d` (chosen for about 720 points "
    "when absent). Whole hours read the hourly rollup, whole minutes the per-minute "
    "rollup, finer buckets the raw readings. `start` defaults to 24 h before `end`, "
    "`end` to now. Too many buckets is a 422.",
    responses=responses(401, 403, 404, 422),
)
def series(
    device_id: str,
    _: Viewer,
    db: Db,
    settings: AppSettings,
    metric: Annotated[str, Query(min_length=1, max_length=64, examples=["avg_speed_kmh"])],
    start: datetime | None = None,
    end: datetime | None = None,
    bucket: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,5}[smhd]$")] = None,
) -> Series:
    end = _aware(end) if end else now()
    start = _aware(start) if start else end - timedelta(days=1)
    window = series_store.plan(start, end, bucket, settings.api_max_buckets)
    with db.connect() as conn:
        domain = registry.domain_of(conn, device_id)
        spec = CATALOG.metric(domain, metric)
        if spec is None:
            raise InvalidInput(f"{domain} devices have no metric {metric!r}")
        points = series_store.device_series(conn, device_id, metric, window)
    return Series(
        device_id=device_id,
        metric=metric,
        unit=spec.unit,
        start=window.start,
        end=window.end,
        bucket=window.bucket,
        source=window.source,
        points=points,
    )


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise InvalidInput("timestamps need an offset (e.g. 2026-11-23T10:00:00Z)")
    if not datetime(2000, 1, 1, tzinfo=t.tzinfo) <= t <= datetime(2200, 1, 1, tzinfo=t.tzinfo):
        raise InvalidInput("timestamps must lie between 2000 and 2200")
    return t
