"""``python -m ioc broker bootstrap``: the services' broker accounts on a secured broker.

Needs ``IOC_BROKER_ADMIN_URL`` (the dynamic-security admin created with ``mosquitto_ctrl
dynsec init``). Prints each new account's MQTT URL once; set it as that service's
``IOC_MQTT_URL``. Accounts that exist are left alone unless ``--reset``.
"""

from __future__ import annotations

import typer

from ioc.broker_admin.accounts import SERVICE_ACLS, DynsecAccounts, new_password
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import InvalidSettings, load_settings, parse_mqtt_url

app = typer.Typer(help="Broker accounts (Mosquitto dynamic security).", no_args_is_help=True)


@app.command()
def bootstrap(
    service: list[str] = typer.Option(
        ["ingest", "alerts"], "--service", help=f"one of {', '.join(SERVICE_ACLS)}"
    ),
    reset: bool = typer.Option(False, "--reset", help="give existing accounts a new password"),
) -> None:
    """Create the services' broker roles and accounts (idempotent)."""
    s = load_settings()
    if s.broker_admin_url is None:
        raise InvalidSettings(
            "IOC_BROKER_ADMIN_URL is not set: it must be mqtt://admin:password@host:port"
            " of the dynamic-security admin"
        )
    unknown = [name for name in service if name not in SERVICE_ACLS]
    if unknown:
        raise typer.BadParameter(
            f"unknown service {unknown[0]!r}; one of {', '.join(SERVICE_ACLS)}",
            param_hint="'--service'",
        )
    admin = parse_mqtt_url(s.broker_admin_url.get_secret_value())
    accounts = DynsecAccounts(DynsecClient(admin))
    for name in service:
        password = new_password()
        if accounts.ensure_service(name, password, reset=reset):
            typer.echo(f"{name}\tmqtt://{name}:{password}@{admin.host}:{admin.port}")
        else:
            typer.echo(
                f"# {name}: account exists, left alone (--reset for a new password)", err=True
            )
