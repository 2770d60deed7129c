"""The incidents API: list with filters, one incident with alerts, steps and history,
the lifecycle with its errors (404, 409, 422), and the policies."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.alerts import store
from ioc.security.roles import Role
from tests.incidents.support import absence_rule, incident_of, open_alert

Auth = Callable[[Role], dict[str, str]]


def test_incident_lifecycle_through_the_api(
    client: TestClient, auth: Auth, database_url: str, unique: Callable[[str], str]
) -> None:
    district = unique("api-D")
    with psycopg.connect(database_url, autocommit=True) as conn:
        rules = [absence_rule(conn, unique(f"silent {d}"), d) for d in ("energy", "health")]
        alerts = [open_alert(conn, r, unique(f"dev-{r.domain}"), district) for r in rules]
        iid = incident_of(conn, alerts[0].id)
    viewer, operator = auth(Role.VIEWER), auth(Role.OPERATOR)

    listed = client.get(f"/api/v1/incidents?district={district}", headers=viewer)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == iid and item["state"] == "open" and item["severity"] == "major"
    assert sorted(item["alert_ids"]) == sorted(a.id for a in alerts)
    assert item["device_count"] == 2 and item["domains"] == ["energy", "health"]
    assert len(item["steps"]) == 7
    assert (
        client.get(f"/api/v1/incidents?district={district}&state=closed", headers=viewer).json()[
            "items"
        ]
        == []
    )
    assert (
        client.get(f"/api/v1/incidents?district={district}&domain=traffic", headers=viewer).json()[
            "items"
        ]
        == []
    )

    one = client.get(f"/api/v1/incidents/{iid}", headers=viewer).json()
    assert {a["id"] for a in one["alerts"]} == {a.id for a in alerts}
    assert one["history"][0]["action"] == "opened"
    assert all(not s["overdue"] for s in one["steps"])  # opened just now

    ticked = client.post(
        f"/api/v1/incidents/{iid}/steps/1", json={"note": "map checked"}, headers=operator
    )
    assert ticked.status_code == 200 and ticked.json()["steps"][0]["note"] == "map checked"
    again = client.post(f"/api/v1/incidents/{iid}/steps/1", headers=operator)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert client.post(f"/api/v1/incidents/{iid}/steps/99", headers=operator).status_code == 404

    taken = client.post(f"/api/v1/incidents/{iid}/ack", json={"note": "mine"}, headers=operator)
    assert taken.status_code == 200 and taken.json()["acknowledged_by"]
    assert client.post(f"/api/v1/incidents/{iid}/ack", headers=operator).status_code == 409
    # close needs a summary (422) and a resolved incident (409)
    assert client.post(f"/api/v1/incidents/{iid}/close", headers=operator).status_code == 422
    assert (
        client.post(
            f"/api/v1/incidents/{iid}/close", json={"note": "  "}, headers=operator
        ).status_code
        == 422
    )
    early = client.post(f"/api/v1/incidents/{iid}/close", json={"note": "x"}, headers=operator)
    assert early.status_code == 409

    # an operator resolves one of its alerts: the incident follows; the last resolves it
    with psycopg.connect(database_url, autocommit=True) as conn:
        for a in alerts:
            store.resolve(conn, a.id, "operator")
    done = client.get(f"/api/v1/incidents/{iid}", headers=viewer).json()
    assert done["state"] == "resolved" and done["resolved_at"]
    closed = client.post(
        f"/api/v1/incidents/{iid}/close", json={"note": "substation fuse"}, headers=operator
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert closed.json()["summary"] == "substation fuse"
    assert [h["action"] for h in closed.json()["history"]][-1] == "closed"

    assert client.get("/api/v1/incidents/999999999", headers=viewer).status_code == 404
    assert client.get("/api/v1/incidents?state=nope", headers=viewer).status_code == 422


def test_policies_read_and_replaced_whole(client: TestClient, auth: Auth) -> None:
    got = client.get("/api/v1/incident-policies", headers=auth(Role.VIEWER))
    assert got.status_code == 200
    body = got.json()
    assert body["policies"][0]["name"] == "district-silence"
    broken = {**body, "policies": [{**body["policies"][0], "procedure": "no-such"}]}
    bad = client.put("/api/v1/incident-policies", json=broken, headers=auth(Role.ADMIN))
    assert bad.status_code == 422
    same = client.put("/api/v1/incident-policies", json=body, headers=auth(Role.ADMIN))
    assert same.status_code == 200 and same.json() == body
