"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ioc.types import DEVICE_ID_PATTERN, Domain

T = TypeVar("T")


class DeviceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "tc-0001",
                    "domain": "traffic",
                    "name": "Counter, Main St / 3rd Ave",
                    "district": "north",
                    "lat": 10.77,
                    "lon": 106.7,
                }
            ]
        },
    )

    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    domain: Domain
    name: str = Field(default="", max_length=200)
    district: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Device(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "tc-0001",
                    "domain": "traffic",
                    "name": "Counter, Main St / 3rd Ave",
                    "district": "north",
                    "lat": 10.77,
                    "lon": 106.7,
                    "created_at": "2026-11-20T08:00:00Z",
                    "decommissioned_at": None,
                    "online": True,
                    "status_at": "2026-11-23T09:58:00Z",
                    "last_seen": "2026-11-23T10:00:00.120Z",
                }
            ]
        }
    )

    device_id: str
    domain: str
    name: str
    district: str
    lat: float | None
    lon: float | None
    created_at: datetime
    decommissioned_at: datetime | None
    online: bool | None = Field(description="last status the device published; null if none")
    status_at: datetime | None
    last_seen: datetime | None = Field(description="time of its newest reading")


class BrokerCredentials(BaseModel):
    """Shown once, at registration: only a hash is kept."""

    username: str
    password: str
    publish_topics: str = Field(
        examples=["ioc/v1/traffic/tc-0001/+"],
        description="the filter the device publishes under; the broker admits only the"
        " two topics in `topics`",
    )
    topics: list[str] = Field(
        examples=[["ioc/v1/traffic/tc-0001/telemetry", "ioc/v1/traffic/tc-0001/status"]],
        description="the device's telemetry and status topics",
    )


class RegisteredDevice(BaseModel):
    device: Device
    credentials: BrokerCredentials | None = Field(
        description="null when the broker is open (no dynamic-security admin configured)"
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, items: list[T], total: int, limit: int, offset: int) -> Page[T]:
        """A page, with ``next_offset`` derived (None on the last page)."""
        following = offset + limit
        return cls(
            items=items,
            total=total,
            limit=limit,
            offset=offset,
            next_offset=following if following < total else None,
        )


class LatestValue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"value": 31.5, "ts": "2026-11-23T10:00:00.120Z"}]}
    )

    value: float
    ts: datetime


class Point(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"t": "2026-11-23T10:00:00Z", "n": 4, "avg": 31.2, "min": 28, "max": 35}]
        }
    )

    t: datetime
    n: int
    avg: float | None
    min: float | None
    max: float | None


class Series(BaseModel):
    device_id: str
    metric: str
    unit: str
    start: datetime
    end: datetime
    bucket: str
    source: Literal["readings", "readings_1m", "readings_1h"]
    points: list[Point]


class KpiGroup(BaseModel):
    domain: str
    district: str
    devices: dict[str, Any]
    freshness_s: dict[str, Any]
    alerts: dict[str, Any]
    incidents: dict[str, Any] = Field(
        default_factory=dict,
        description="open incidents by severity, incidents opened in the window, and their"
        " mean time to acknowledge and to resolve (s)",
    )
    indicators: dict[str, Any]
    metrics: dict[str, Any]


class Kpis(BaseModel):
    generated_at: datetime
    groups: list[KpiGroup]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    database: bool
    broker: bool
