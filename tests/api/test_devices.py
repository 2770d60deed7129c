"""Devices through the API on an open broker: registry, latest values, series, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from ioc.security.roles import Role
from ioc.storage.readings import ReadingWriter
from ioc.types import Reading

Auth = Callable[[Role], dict[str, str]]


def body(device_id: str, domain: str = "traffic", district: str = "north") -> dict[str, object]:
    return {
        "device_id": device_id,
        "domain": domain,
        "name": "n",
        "district": district,
        "lat": 10.0,
        "lon": 106.0,
    }


def write(url: str, readings: list[Reading]) -> None:
    """Store readings as ingest does, then bring the rollups up to date."""
    with psycopg.connect(url) as conn:
        writer = ReadingWriter(ReadingWriter.rollups_maintained(conn))
        writer.write(conn, [(r, 0) for r in readings])
    try:  # rollups kept off ingest's hot path: the refresher recomputes them
        from ioc.storage.rollups import refresh
    except ImportError:  # older storage: ReadingWriter kept them in the same transaction
        return
    with psycopg.connect(url) as conn:
        refresh(conn)


def test_register_read_decommission(
    client: TestClient, auth: Auth, unique: Callable[[str], str]
) -> None:
    dev = unique("tc")
    r = client.post("/api/v1/devices", json=body(dev), headers=auth(Role.ADMIN))
    assert r.status_code == 201, r.text
    assert r.json()["device"]["device_id"] == dev
    assert r.json()["credentials"] is None  # open broker: no account to create

    again = client.post("/api/v1/devices", json=body(dev), headers=auth(Role.ADMIN))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409

    one = client.get(f"/api/v1/devices/{dev}", headers=auth(Role.VIEWER)).json()
    assert one["domain"] == "traffic" and one["last_seen"] is None and one["online"] is None

    listed = client.get(
        "/api/v1/devices", params={"district": "north", "limit": 1000}, headers=auth(Role.VIEWER)
    ).json()
    assert dev in [d["device_id"] for d in listed["items"]]

    gone = client.delete(f"/api/v1/devices/{dev}", headers=auth(Role.ADMIN))
    assert gone.status_code == 200 and gone.json()["decommissioned_at"] is not None
    assert client.delete(f"/api/v1/devices/{dev}", headers=auth(Role.ADMIN)).status_code == 409
    active = client.get("/api/v1/devices", params={"limit": 1000}, headers=auth(Role.VIEWER)).json()
    assert dev not in [d["device_id"] for d in active["items"]]


def test_pagination(client: TestClient, auth: Auth, unique: Callable[[str], str]) -> None:
    district = unique("pg")
    for i in range(5):
        client.post(
            "/api/v1/devices",
            json=body(unique(f"p{i}"), district=district),
            headers=auth(Role.ADMIN),
        )
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(
            "/api/v1/devices",
            params={"district": district, "limit": 2, "offset": offset},
            headers=auth(Role.VIEWER),
        ).json()
        assert page["total"] == 5
        seen += [d["device_id"] for d in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == 5


def test_bad_bodies_are_422_problems(client: TestClient, auth: Auth) -> None:
    for bad in (
        {"device_id": "has space", "domain": "traffic"},
        {"device_id": "ok", "domain": "weather"},
        {"device_id": "ok", "domain": "traffic", "lat": 91},
    ):
        r = client.post("/api/v1/devices", json=bad, headers=auth(Role.ADMIN))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"]
    assert client.get("/api/v1/devices/nobody-here", headers=auth(Role.VIEWER)).status_code == 404


def test_latest_and_series(
    client: TestClient, auth: Auth, database_url: str, unique: Callable[[str], str]
) -> None:
    dev = unique("sp")
    client.post("/api/v1/devices", json=body(dev), headers=auth(Role.ADMIN))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=2, minutes=now.minute % 5)  # 5-minute aligned
    readings = [
        Reading(t0 + timedelta(seconds=20 * i), dev, "avg_speed_kmh", float(i % 60))
        for i in range(360)
    ]  # two hours, every 20 s
    write(database_url, readings)

    latest = client.get(f"/api/v1/devices/{dev}/latest", headers=auth(Role.VIEWER)).json()
    assert latest["avg_speed_kmh"]["value"] == readings[-1].value

    def series(bucket: str) -> dict[str, object]:
        r = client.get(
            f"/api/v1/devices/{dev}/series",
            headers=auth(Role.VIEWER),
            params={
                "metric": "avg_speed_kmh",
                "start": t0.isoformat(),
                "end": (t0 + timedelta(hours=2)).isoformat(),
                "bucket": bucket,
            },
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    raw, minute, hour = series("30s"), series("5m"), series("1h")
    assert (raw["source"], minute["source"], hour["source"]) == (
        "readings",
        "readings_1m",
        "readings_1h",
    )
    # The rollups re-aggregate exactly: same counts and means as the raw data.
    assert sum(p["n"] for p in minute["points"]) == sum(p["n"] for p in hour["points"]) == 360
    assert len(minute["points"]) == 24 and len(hour["points"]) in (2, 3)
    raw_first_5m = [r.value for r in readings[:15]]
    assert abs(minute["points"][0]["avg"] - sum(raw_first_5m) / 15) < 1e-9
    assert minute["points"][0]["max"] == max(raw_first_5m)

    too_many = client.get(
        f"/api/v1/devices/{dev}/series",
        headers=auth(Role.VIEWER),
        params={
            "metric": "avg_speed_kmh",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-03-01T00:00:00Z",
            "bucket": "1s",
        },
    )
    assert too_many.status_code == 422 and "buckets" in too_many.json()["detail"]
    wrong_metric = client.get(
        f"/api/v1/devices/{dev}/series", headers=auth(Role.VIEWER), params={"metric": "voltage_v"}
    )
    assert wrong_metric.status_code == 422
    naive = client.get(
        f"/api/v1/devices/{dev}/series",
        headers=auth(Role.VIEWER),
        params={"metric": "avg_speed_kmh", "start": "2026-01-01T00:00:00"},
    )
    assert naive.status_code == 422


def test_catalog(client: TestClient, auth: Auth) -> None:
    cat = client.get("/api/v1/catalog", headers=auth(Role.VIEWER)).json()
    assert {"name": "fridge_temp_c"}.items() <= cat["health"][0].items() or any(
        m["name"] == "fridge_temp_c" for m in cat["health"]
    )
    assert set(cat) == {"traffic", "energy", "agriculture", "health"}


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["database"] is True
