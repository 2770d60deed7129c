"""Broker accounts for devices and services, on top of :class:`DynsecClient`.

A device gets a client named after its id and a role ``device:<id>`` whose only grant is
publishing under its own id (``ioc/v1/+/<id>/#``); everything else falls to the
plugin's default, deny. Services get a role with what they need (ingest and the alert
engine subscribe to telemetry and status, the simulator publishes as any device).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from ioc.broker_admin.dynsec import Command, DynsecClient, check
from ioc.telemetry.topics import PREFIX, STATUS_FILTER, TELEMETRY_FILTER, device_topic_pattern


class BrokerAccounts(Protocol):
    """What the API needs of the broker; ``None`` in settings means an open broker."""

    def create_device(self, device_id: str, password: str) -> None: ...

    def remove_device(self, device_id: str) -> None: ...


def new_password() -> str:
    return secrets.token_urlsafe(24)


def device_role(device_id: str) -> str:
    return f"device:{device_id}"


def _acl(acltype: str, topic: str) -> dict[str, object]:
    return {"acltype": acltype, "topic": topic, "allow": True}


def _subscriber_acls(group: str) -> list[dict[str, object]]:
    acls: list[dict[str, object]] = []
    for topic in (TELEMETRY_FILTER, STATUS_FILTER):
        acls.append(_acl("subscribePattern", topic))
        acls.append(_acl("subscribePattern", f"$share/{group}/{topic}"))
        acls.append(_acl("publishClientReceive", topic))
    return acls


def _ingest_acls(group: str) -> list[dict[str, object]]:
    """Ingest also takes everything else under the prefix, to dead-letter what matches no
    contract topic (``bad_topic``) instead of letting it vanish."""
    everything = f"{PREFIX}/#"
    return [
        *_subscriber_acls(group),
        _acl("subscribePattern", f"$share/{group}/{everything}"),
        _acl("publishClientReceive", everything),
    ]


#: Service name → the ACLs of its role.
SERVICE_ACLS: dict[str, list[dict[str, object]]] = {
    "ingest": _ingest_acls("ingest"),
    "alerts": _subscriber_acls("alerts"),
    "simulator": [_acl("publishClientSend", f"{PREFIX}/#")],
}


@dataclass(frozen=True, slots=True)
class DynsecAccounts:
    client: DynsecClient

    def create_device(self, device_id: str, password: str) -> None:
        role = device_role(device_id)
        commands: list[Command] = [
            {
                "command": "createRole",
                "rolename": role,
                "acls": [_acl("publishClientSend", device_topic_pattern(device_id))],
            },
            {
                "command": "createClient",
                "username": device_id,
                "password": password,
                "roles": [{"rolename": role}],
            },
        ]
        # A role left over from an earlier, half-finished attempt is fine to reuse.
        check(self.client.run(commands), ignore=("Role already exists",))

    def remove_device(self, device_id: str) -> None:
        """Delete the client (its live sessions are dropped at once) and its role."""
        responses = self.client.run(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": device_role(device_id)},
            ]
        )
        check(responses, ignore=("not found",))

    def ensure_service(self, name: str, password: str, *, reset: bool = False) -> bool:
        """Create a service's role and client; True if the client was created (or its
        password reset), False if it already existed and was left alone."""
        role = f"service:{name}"
        responses = self.client.run(
            [
                {"command": "createRole", "rolename": role, "acls": SERVICE_ACLS[name]},
                {
                    "command": "createClient",
                    "username": name,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        check(responses, ignore=("already exists",))
        created = not responses[1].get("error")
        if not created and reset:
            check(
                self.client.run(
                    [{"command": "setClientPassword", "username": name, "password": password}]
                )
            )
            return True
        return created
