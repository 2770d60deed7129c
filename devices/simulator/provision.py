"""``--provision``: register the fleet through the operations center API.

``POST /api/v1/devices`` with ``{device_id, domain, name, district, lat, lon}`` answers
201 with ``{"device": {...}, "credentials": {"username", "password", ...} | null}``; the
password is shown once. ``credentials`` is null when the center runs an open broker, and
the device then connects without a password. The HTTP client is passed in, so tests
give it an ``httpx.MockTransport``. httpx's errors become the IOC's here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from devices.simulator.fleet import Device
from ioc.errors import Conflict, Forbidden, IOCError, Unauthorized, Unavailable

PATH = "/api/v1/devices"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class ProvisionError(IOCError):
    """The API answered, but not with what the contract promises."""


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)[:200]


def register(client: httpx.Client, device: Device) -> Credentials | None:
    """Register one device; its broker credentials, or None for an open broker."""
    try:
        response = client.post(PATH, json=device.registration())
    except httpx.TransportError as exc:
        raise Unavailable(
            f"the operations center API at {client.base_url} cannot be reached ({exc}); "
            "start it with `python -m ioc api` or point --api-url at it"
        ) from exc
    if response.status_code == 201:
        creds = response.json().get("credentials")
        if creds is None:
            return None
        try:
            return Credentials(str(creds["username"]), str(creds["password"]))
        except (KeyError, TypeError):
            raise ProvisionError(f"201 without usable credentials: {creds!r}") from None
    why = _problem(response)
    if response.status_code == 401:
        raise Unauthorized(f"the API refused the key (401: {why}); pass --api-key or IOC_API_KEY")
    if response.status_code == 403:
        raise Forbidden(f"registering devices needs an admin key (403: {why})")
    if response.status_code == 409:
        raise Conflict(
            f"device {device.device_id} is already registered and its password was shown "
            f"only once; decommission it (DELETE {PATH}/{device.device_id}) or use another "
            "--prefix"
        )
    if response.status_code == 404:
        raise Unavailable(f"{client.base_url} has no {PATH} (404): is this the IOC API?")
    if response.status_code >= 500:
        raise Unavailable(f"the API failed ({response.status_code}: {why})")
    raise ProvisionError(f"registering {device.device_id}: {response.status_code} {why}")


@dataclass(slots=True)
class Provisioned:
    """What registration gave: credentials per new device, and the devices that were
    registered already (by an earlier run: their passwords were shown then, once)."""

    credentials: dict[str, Credentials | None] = field(default_factory=dict)
    existing: list[str] = field(default_factory=list)

    def users(self) -> dict[str, tuple[str, str]]:
        return {k: (c.username, c.password) for k, c in self.credentials.items() if c}


def provision(
    client: httpx.Client,
    devices: Iterable[Device],
    on_each: Callable[[int], None] | None = None,
    *,
    keep_existing: bool = False,
) -> Provisioned:
    """Register every device in order; stop at the first failure (the devices before it
    stay registered). With ``keep_existing``, a device that is already registered is
    noted rather than refused, so a restarted simulator carries on."""
    out = Provisioned()
    for n, device in enumerate(devices, 1):
        try:
            out.credentials[device.device_id] = register(client, device)
        except Conflict:
            if not keep_existing:
                raise
            out.existing.append(device.device_id)
        if on_each is not None:
            on_each(n)
    return out


def api_client(api_url: str, api_key: str | None, timeout: float = 10.0) -> httpx.Client:
    if not api_key:
        raise Unauthorized("--provision needs an admin API key: --api-key or IOC_API_KEY")
    return httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
    )
