"""KPIs per domain and district, from a fresh database with known contents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from ioc.alerts import store
from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.storage.registry import NewDevice, register_devices
from tests.api.helpers import make_rule


@pytest.fixture
def kpi_client(fresh_database_url: str) -> Iterator[tuple[TestClient, str, str]]:
    app = create_app(
        Settings(database_url=fresh_database_url),
        accounts=None,
        run_migrations=False,
        schedule_reports=False,
    )
    with psycopg.connect(fresh_database_url) as conn:
        key, _ = create_key(conn, Role.VIEWER)
    with TestClient(app) as c:
        yield c, fresh_database_url, key


def test_kpis(kpi_client: tuple[TestClient, str, str]) -> None:
    client, url, key = kpi_client
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        register_devices(
            conn,
            [
                NewDevice("t1", "traffic", district="east"),
                NewDevice("t2", "traffic", district="east"),
                NewDevice("t3", "traffic", district="east"),  # never heard from
                NewDevice("f1", "health", district="east"),
                NewDevice("f2", "health", district="east"),
            ],
        )
        conn.execute("UPDATE devices SET online = true WHERE device_id IN ('t1', 'f1')")
        conn.execute(
            "INSERT INTO latest VALUES ('t1', 'avg_speed_kmh', %(fresh)s, 10),"
            " ('t2', 'avg_speed_kmh', %(old)s, 60), ('f1', 'fridge_temp_c', %(fresh)s, 9.5),"
            " ('f2', 'fridge_temp_c', %(fresh)s, 5)",
            {"fresh": now - timedelta(minutes=1), "old": now - timedelta(hours=1)},
        )
        conn.execute(
            "INSERT INTO readings_1m (bucket, device_id, metric, n, sum, min, max, avg) VALUES"
            " (%(t)s, 'f1', 'fridge_temp_c', 2, 19, 9, 10, 9.5),"
            " (%(t2)s, 'f1', 'fridge_temp_c', 2, 10, 5, 5, 5)",
            {"t": now - timedelta(hours=2), "t2": now - timedelta(hours=3)},
        )
    rule = make_rule(url, "fridge warm")
    with psycopg.connect(url) as conn:
        a = store.open_alert(conn, rule, "f1", "f1", "east", now - timedelta(minutes=30), 9.5)
        b = store.open_alert(conn, rule, "f2", "f2", "east", now - timedelta(minutes=20), 9.0)
        assert a is not None and b is not None
        store.acknowledge(conn, a.id, "op", at=now - timedelta(minutes=25))  # 5 min to ack
        store.resolve(conn, b.id, "op", at=now - timedelta(minutes=10))  # 10 min to resolve

    r = client.get(
        "/api/v1/kpis", headers={"Authorization": f"Bearer {key}"}, params={"district": "east"}
    )
    assert r.status_code == 200, r.text
    groups = {g["domain"]: g for g in r.json()["groups"]}
    traffic, health = groups["traffic"], groups["health"]
    assert traffic["devices"] == {
        "registered": 3,
        "online": 1,
        "reporting": 1,
        "reporting_pct": 33.3,
    }
    assert traffic["freshness_s"]["max"] == pytest.approx(3600, abs=30)
    assert traffic["indicators"]["avg_speed_kmh"] == 10.0  # only fresh readings count
    assert traffic["indicators"]["congestion_pct"] == 100.0
    assert health["indicators"]["fridges_out_of_range"] == 1
    assert health["indicators"]["cold_chain_excursion_minutes_24h"] == 1
    assert health["alerts"]["open"]["critical"] == 1
    assert health["alerts"]["oldest_open_age_s"] == pytest.approx(1800, abs=30)
    assert health["alerts"]["mean_time_to_ack_s"] == pytest.approx(300, abs=1)
    assert health["alerts"]["mean_time_to_resolve_s"] == pytest.approx(600, abs=1)
    assert traffic["alerts"]["open"]["critical"] == 0

    only = client.get(
        "/api/v1/kpis", headers={"Authorization": f"Bearer {key}"}, params={"domain": "health"}
    ).json()
    assert [g["domain"] for g in only["groups"]] == ["health"]
