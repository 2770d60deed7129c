"""``--provision`` against the documented contract of ``POST /api/v1/devices``."""

from __future__ import annotations

import json

import httpx
import pytest

from devices.simulator import Fleet
from devices.simulator.provision import Credentials, api_client, provision
from ioc.errors import Conflict, Forbidden, Unauthorized, Unavailable

KEY = "admin-key"


def _api(existing: set[str] | None = None, broker_open: bool = False) -> httpx.MockTransport:
    registered: set[str] = set(existing or ())

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/devices" or request.method != "POST":
            return httpx.Response(404, json={"title": "Not Found"})
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"title": "Unauthorized", "detail": "bad key"})
        body = json.loads(request.content)
        assert set(body) == {"device_id", "domain", "name", "district", "lat", "lon"}
        if body["device_id"] in registered:
            return httpx.Response(409, json={"title": "Conflict", "detail": "exists"})
        registered.add(body["device_id"])
        creds = None
        if not broker_open:
            creds = {
                "username": body["device_id"],
                "password": f"pw-{body['device_id']}",
                "publish_topics": f"ioc/v1/{body['domain']}/{body['device_id']}/+",
            }
        return httpx.Response(201, json={"device": body, "credentials": creds})

    return httpx.MockTransport(handle)


def _client(transport: httpx.BaseTransport, key: str = KEY) -> httpx.Client:
    return httpx.Client(
        base_url="http://api.test", transport=transport, headers={"Authorization": f"Bearer {key}"}
    )


def test_every_device_is_registered_and_gets_its_own_credentials() -> None:
    fleet = Fleet.build(2)
    seen: list[int] = []
    done = provision(_client(_api()), fleet.devices, seen.append)
    creds = done.credentials
    assert done.existing == []
    assert list(creds) == [d.device_id for d in fleet.devices]
    assert seen == list(range(1, len(fleet) + 1))
    first = creds[fleet.devices[0].device_id]
    assert first == Credentials(fleet.devices[0].device_id, f"pw-{fleet.devices[0].device_id}")
    assert "pw-" not in repr(first)  # never printed by accident


def test_an_open_broker_means_no_credentials() -> None:
    fleet = Fleet.build(1)
    done = provision(_client(_api(broker_open=True)), fleet.devices)
    assert set(done.credentials.values()) == {None}
    assert done.users() == {}


def test_a_restarted_simulator_keeps_the_devices_registered_before() -> None:
    fleet = Fleet.build(1)
    first = fleet.devices[0].device_id
    done = provision(_client(_api(existing={first})), fleet.devices, keep_existing=True)
    assert done.existing == [first]
    assert set(done.users()) == {d.device_id for d in fleet.devices[1:]}


@pytest.mark.parametrize(
    ("client", "error", "message"),
    [
        (lambda: _client(_api(), key="wrong"), Unauthorized, "--api-key or IOC_API_KEY"),
        (
            lambda: _client(httpx.MockTransport(lambda r: httpx.Response(403, json={}))),
            Forbidden,
            "admin key",
        ),
        (lambda: _client(_api(existing={"sim-traffic-00001"})), Conflict, "shown only once"),
        (
            lambda: _client(httpx.MockTransport(lambda r: httpx.Response(404, text="no"))),
            Unavailable,
            "is this the IOC API",
        ),
        (
            lambda: _client(httpx.MockTransport(lambda r: httpx.Response(503, json={}))),
            Unavailable,
            "503",
        ),
    ],
)
def test_refusals_explain_themselves(client, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        provision(client(), Fleet.build(1).devices)


def test_an_unreachable_api_says_how_to_start_it() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unavailable, match="python -m ioc api"):
        provision(_client(httpx.MockTransport(refuse)), Fleet.build(1).devices)


def test_a_key_is_required() -> None:
    with pytest.raises(Unauthorized, match="IOC_API_KEY"):
        api_client("http://127.0.0.1:9", None)
