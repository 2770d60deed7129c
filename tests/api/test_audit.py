"""Every change leaves an audit entry (who, what, when, from where), and no secret
reaches the audit log or a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ioc.logs import JsonFormatter
from ioc.security.roles import Role
from tests.api.helpers import make_rule, open_alert, rule_body

Auth = Callable[[Role], dict[str, str]]


def test_every_change_is_audited(
    client: TestClient,
    auth: Auth,
    keys: dict[Role, str],
    database_url: str,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin, operator = auth(Role.ADMIN), auth(Role.OPERATOR)
    dev = unique("au")
    assert (
        client.post(
            "/api/v1/devices", json={"device_id": dev, "domain": "health"}, headers=admin
        ).status_code
        == 201
    )
    created = client.post("/api/v1/rules", json=rule_body(unique("au-rule")), headers=admin)
    rule_id = created.json()["id"]
    assert (
        client.put(
            f"/api/v1/rules/{rule_id}", json=rule_body(unique("au-rule2")), headers=admin
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/rules/{rule_id}", headers=admin).status_code == 204
    alert = open_alert(database_url, make_rule(database_url, unique("au-r3")), dev)
    assert (
        client.post(
            f"/api/v1/alerts/{alert.id}/ack", json={"note": "looking"}, headers=operator
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/alerts/{alert.id}/resolve", headers=operator).status_code == 200
    assert client.delete(f"/api/v1/devices/{dev}", headers=admin).status_code == 200
    # A refused change leaves nothing behind.
    assert client.post(f"/api/v1/alerts/{alert.id}/ack", headers=operator).status_code == 409

    log = client.get("/api/v1/audit", params={"limit": 1000}, headers=admin).json()
    mine = [
        e for e in log if e["target"] in (f"device:{dev}", f"rule:{rule_id}", f"alert:{alert.id}")
    ]
    actions = sorted(e["action"] for e in mine)
    assert actions == sorted(
        [
            "device.register",
            "rule.create",
            "rule.update",
            "rule.delete",
            "alert.acknowledge",
            "alert.resolve",
            "device.decommission",
        ]
    )
    admin_prefix = keys[Role.ADMIN].split("_")[1]
    for entry in mine:
        assert entry["actor"].startswith("key:") and entry["role"] in ("admin", "operator")
        assert entry["remote"]  # from where
        assert entry["time"]
    register = next(e for e in mine if e["action"] == "device.register")
    assert register["actor"] == f"key:{admin_prefix}" and register["detail"]["domain"] == "health"
    ack = next(e for e in mine if e["action"] == "alert.acknowledge")
    assert ack["detail"]["note"] == "looking" and ack["role"] == "operator"

    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for key in keys.values():
        assert key not in text
        assert key not in str(log)


def test_revoked_key_stops_at_once(client: TestClient, database_url: str) -> None:
    import psycopg

    from ioc.security.keys import create_key, revoke_key

    with psycopg.connect(database_url) as conn:
        key, record = create_key(conn, Role.VIEWER, "short-lived")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/catalog", headers=headers).status_code == 200
    with psycopg.connect(database_url) as conn:
        revoke_key(conn, record.prefix)
    assert client.get("/api/v1/catalog", headers=headers).status_code == 401
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT key_hash FROM api_keys WHERE prefix = %s", (record.prefix,)
        ).fetchone()
    assert stored is not None and key not in stored[0]


def test_bootstrap_admin_key(fresh_database_url: str) -> None:
    from ioc.api.app import create_app
    from ioc.config import Settings

    settings = Settings(database_url=fresh_database_url, bootstrap_admin_key="boot-strap-key-123")
    with TestClient(create_app(settings, accounts=None, schedule_reports=False)) as c:
        r = c.get("/api/v1/audit", headers={"Authorization": "Bearer boot-strap-key-123"})
        assert r.status_code == 200
    with TestClient(create_app(settings, accounts=None, schedule_reports=False)) as c:
        r = c.get("/api/v1/audit", headers={"Authorization": "Bearer boot-strap-key-123"})
        assert r.status_code == 200  # idempotent across restarts
