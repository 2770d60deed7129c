"""``python -m ioc broker bootstrap``: the services' broker accounts on a secured broker.

Needs ``IOC_BROKER_ADMIN_URL`` (the dynamic-security admin created with ``mosquitto_ctrl
dynsec init``; ``mqtts://`` with ``IOC_MQTT_CA_FILE`` over TLS). Each replica gets its
own account, bound to client id = account name (docs/broker.md): ``--service
ingest=ingest-1`` makes the account ``ingest-1`` with ingest's role; run that replica
with ``IOC_INGEST_CLIENT_ID=ingest-1``. ``--service ingest=ingest-1:2`` makes one
account per connection, ``ingest-1-0`` and ``ingest-1-1``, sharing one password
(``ingest --workers 2``, the simulator's pool). Prints each new account's MQTT URL
once. Accounts that exist are bound to their client id and otherwise left alone unless
``--reset``. It also lets the admin clear a decommissioned device's retained status.
"""

from __future__ import annotations

import typer

from ioc.broker_admin.accounts import (
    SERVICE_ACLS,
    DynsecAccounts,
    new_password,
    replica_accounts,
)
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import InvalidSettings, load_settings

app = typer.Typer(help="Broker accounts (Mosquitto dynamic security).", no_args_is_help=True)


def parse_replica(spec: str) -> tuple[str, list[str]]:
    """``ROLE[=ACCOUNT][:N]`` → (role, its accounts); BadParameter when unusable."""
    head, _, count = spec.partition(":")
    role, _, account = head.partition("=")
    if role not in SERVICE_ACLS:
        raise typer.BadParameter(
            f"unknown service {role!r}; one of {', '.join(SERVICE_ACLS)}",
            param_hint="'--service'",
        )
    try:
        return role, replica_accounts(account or role, int(count) if count else None)
    except ValueError:
        raise typer.BadParameter(
            f"{spec!r}: ROLE[=ACCOUNT][:CONNECTIONS], connections a number from 1",
            param_hint="'--service'",
        ) from None


@app.command()
def bootstrap(
    service: list[str] = typer.Option(
        ["ingest=ingest-1", "alerts=alerts-1"],
        "--service",
        help=f"ROLE[=ACCOUNT][:CONNECTIONS], ROLE one of {', '.join(SERVICE_ACLS)}",
    ),
    reset: bool = typer.Option(False, "--reset", help="give existing accounts a new password"),
) -> None:
    """Create the services' broker roles and accounts, one per replica (idempotent)."""
    s = load_settings()
    admin = s.broker_admin
    if admin is None:
        raise InvalidSettings(
            "IOC_BROKER_ADMIN_URL is not set: it must be mqtt://admin:password@host:port"
            " of the dynamic-security admin"
        )
    replicas = [parse_replica(spec) for spec in service]
    accounts = DynsecAccounts(DynsecClient(admin))
    accounts.grant_status_clearing()
    scheme = "mqtts" if admin.tls else "mqtt"
    for role, names in replicas:
        password = new_password()
        for name in names:
            if accounts.ensure_service(role, password, reset=reset, account=name):
                typer.echo(f"{name}\t{scheme}://{name}:{password}@{admin.host}:{admin.port}")
            else:
                typer.echo(
                    f"# {name}: account exists, left alone (--reset for a new password)",
                    err=True,
                )
