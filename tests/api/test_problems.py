"""Errors a person can read: malformed JSON is a 400, a conflict a 409 that names the
resource and never carries database text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ioc.security.roles import Role
from tests.api.helpers import rule_body

Auth = Callable[[Role], dict[str, str]]

DATABASE_WORDS = ("duplicate key", "constraint", "violates", "pkey", "psycopg")


def _json(auth: Auth) -> dict[str, str]:
    return {**auth(Role.ADMIN), "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/devices"),
        ("POST", "/api/v1/rules"),
        ("PUT", "/api/v1/rules/1"),
        ("POST", "/api/v1/alerts/1/ack"),
    ],
)
@pytest.mark.parametrize("text", ['{"device_id": ', "{'single': 'quotes'}", "not json"])
def test_malformed_json_is_a_400_problem(
    client: TestClient, auth: Auth, method: str, path: str, text: str
) -> None:
    r = client.request(method, path, content=text, headers=_json(auth))
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert "not valid JSON" in problem["detail"]


def test_json_that_fails_validation_stays_a_422(client: TestClient, auth: Auth) -> None:
    r = client.post("/api/v1/devices", json={"device_id": "x"}, headers=auth(Role.ADMIN))
    assert r.status_code == 422 and r.json()["errors"]


def test_duplicate_device_is_a_409_about_the_device(
    client: TestClient, auth: Auth, unique: Callable[[str], str]
) -> None:
    dev = unique("dup")
    body = {"device_id": dev, "domain": "traffic", "district": "north"}
    assert client.post("/api/v1/devices", json=body, headers=auth(Role.ADMIN)).status_code == 201
    again = client.post("/api/v1/devices", json=body, headers=auth(Role.ADMIN))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    detail = again.json()["detail"]
    assert detail == f"device '{dev}' is already registered"
    assert not any(w in detail.lower() for w in DATABASE_WORDS)
    # A decommissioned id stays taken: its history keeps the name.
    assert client.delete(f"/api/v1/devices/{dev}", headers=auth(Role.ADMIN)).status_code == 200
    third = client.post("/api/v1/devices", json=body, headers=auth(Role.ADMIN))
    assert third.status_code == 409 and third.json()["detail"] == detail


def test_duplicate_rule_name_is_a_409_about_the_rule(
    client: TestClient, auth: Auth, unique: Callable[[str], str]
) -> None:
    first, second = unique("rule a"), unique("rule b")
    created = client.post("/api/v1/rules", json=rule_body(first), headers=auth(Role.ADMIN))
    assert created.status_code == 201, created.text
    other = client.post("/api/v1/rules", json=rule_body(second), headers=auth(Role.ADMIN))
    assert other.status_code == 201

    again = client.post("/api/v1/rules", json=rule_body(first), headers=auth(Role.ADMIN))
    assert again.status_code == 409
    assert again.json()["detail"] == f"a rule named '{first}' already exists"

    renamed = client.put(
        f"/api/v1/rules/{other.json()['id']}", json=rule_body(first), headers=auth(Role.ADMIN)
    )
    assert renamed.status_code == 409
    assert renamed.json()["detail"] == f"a rule named '{first}' already exists"
    assert not any(w in renamed.json()["detail"].lower() for w in DATABASE_WORDS)
