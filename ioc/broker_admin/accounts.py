"""Broker accounts for devices and services, on top of :class:`DynsecClient`.

Every account is **bound to one client id** (the plugin's ``clientid`` on a client: a
connection with any other client id is refused), so no account can take over another's
session:

- a device's account is its id, bound to client id = its id, with a role
  ``device:<id>`` whose only grants are publishing its own two topics,
  ``ioc/v1/<its domain>/<its id>/telemetry`` and ``/status``; everything else falls to
  the plugin's default, deny;
- a service replica's account is its client id (``ingest-1``, ``alerts-1``, …), bound
  to it, with the role of its service (``service:ingest``: subscribe to telemetry and
  status; the simulator publishes as any device). A process with several connections
  (``ingest --workers N``, the simulator's pool) has one account per connection,
  ``<account>-<n>``, sharing the replica's password.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from ioc.broker_admin.dynsec import Command, DynsecClient, check
from ioc.errors import BrokerUnavailable
from ioc.telemetry.topics import (
    PREFIX,
    STATUS_FILTER,
    TELEMETRY_FILTER,
    device_topic_pattern,
    status_topic,
    telemetry_topic,
)

log = logging.getLogger("ioc.broker_admin")


class BrokerAccounts(Protocol):
    """What the API needs of the broker; ``None`` in settings means an open broker.

    ``domain`` is the device's registered domain (its topics); removing a device also
    clears its retained status when the domain is given."""

    def create_device(self, device_id: str, password: str, domain: str | None = None) -> None: ...

    def remove_device(self, device_id: str, domain: str | None = None) -> None: ...


def new_password() -> str:
    return secrets.token_urlsafe(24)


def device_role(device_id: str) -> str:
    return f"device:{device_id}"


#: The role that lets the admin clear a decommissioned device's retained status.
STATUS_CLEAR_ROLE = "center:status-clear"


def device_acls(device_id: str, domain: str | None) -> list[dict[str, object]]:
    """Publish its own telemetry and status, in its own domain; nothing else. (Without a
    domain, as before the binding: any domain, its own id.)"""
    if domain is None:
        return [_acl("publishClientSend", device_topic_pattern(device_id))]
    return [
        _acl("publishClientSend", telemetry_topic(domain, device_id)),
        _acl("publishClientSend", status_topic(domain, device_id)),
    ]


def replica_accounts(account: str, connections: int | None = None) -> list[str]:
    """The accounts (= client ids) of one replica: itself, or with ``connections`` one
    per connection, ``<account>-<n>`` (what ``ingest --workers N`` and the simulator's
    pool log in as)."""
    if connections is None:
        return [account]
    if connections < 1:
        raise ValueError("a replica has at least one connection")
    return [f"{account}-{n}" for n in range(connections)]


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

    def create_device(self, device_id: str, password: str, domain: str | None = None) -> None:
        role = device_role(device_id)
        commands: list[Command] = [
            {"command": "createRole", "rolename": role, "acls": device_acls(device_id, domain)},
            {
                "command": "createClient",
                "username": device_id,
                "password": password,
                "clientid": device_id,
                "roles": [{"rolename": role}],
            },
        ]
        # A role left over from an earlier, half-finished attempt is fine to reuse.
        check(self.client.run(commands), ignore=("Role already exists",))

    def remove_device(self, device_id: str, domain: str | None = None) -> None:
        """Delete the client (its live sessions are dropped at once, without their last
        will) and its role, then clear its retained status so that nothing on the broker
        still says it is online."""
        responses = self.client.run(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": device_role(device_id)},
            ]
        )
        check(responses, ignore=("not found",))
        if domain is not None:
            self._clear_status(status_topic(domain, device_id))

    def _clear_status(self, topic: str) -> None:
        """The account is gone already, so a failure here does not undo the
        decommissioning: an admin not yet allowed to clear statuses (a broker set up
        before this existed) is allowed once and tried again, and then it is logged."""
        try:
            self.client.clear_retained(topic)
            return
        except BrokerUnavailable:
            pass
        try:
            self.grant_status_clearing()
            self.client.clear_retained(topic)
        except BrokerUnavailable as exc:
            log.warning(
                "retained status not cleared; run `ioc broker bootstrap`",
                extra={"topic": topic, "error": str(exc)},
            )

    def grant_status_clearing(self) -> None:
        """Let the admin account publish (empty, retained) on status topics: decommissioning
        clears a device's retained status. Idempotent; changing the admin's roles makes
        the broker drop its live connections, so this runs at bootstrap, not per call."""
        admin = self.client.endpoint.username
        responses = self.client.run(
            [
                {
                    "command": "createRole",
                    "rolename": STATUS_CLEAR_ROLE,
                    "acls": [_acl("publishClientSend", STATUS_FILTER)],
                },
                {"command": "getClient", "username": admin},
            ]
        )
        check(responses, ignore=("already exists",))
        roles = responses[1].get("data", {}).get("client", {}).get("roles", [])
        if not any(r.get("rolename") == STATUS_CLEAR_ROLE for r in roles):
            check(
                self.client.run(
                    [{"command": "addClientRole", "username": admin, "rolename": STATUS_CLEAR_ROLE}]
                )
            )

    def ensure_service(
        self, name: str, password: str, *, reset: bool = False, account: str | None = None
    ) -> bool:
        """Create the role of service ``name`` and the replica's client ``account``
        (default: ``name``), bound to client id = ``account``; True if the client was
        created (or its password reset), False if it already existed and was left alone.
        An existing client is bound to its client id either way."""
        role = f"service:{name}"
        username = account or name
        responses = self.client.run(
            [
                {"command": "createRole", "rolename": role, "acls": SERVICE_ACLS[name]},
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "clientid": username,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        check(responses, ignore=("already exists",))
        created = not responses[1].get("error")
        if created:
            return True
        existing = self.client.run([{"command": "getClient", "username": username}])
        check(existing)
        bound = existing[0].get("data", {}).get("client", {}).get("clientid")
        commands: list[Command] = []
        if bound != username:  # an account made before the binding
            commands.append({"command": "setClientId", "username": username, "clientid": username})
        if reset:
            commands.append(
                {"command": "setClientPassword", "username": username, "password": password}
            )
        if commands:
            check(self.client.run(commands))
        return reset
