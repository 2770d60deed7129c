"""``ioc`` / ``python -m ioc``: the operations center's commands.

Each command builds :class:`~ioc.config.Settings` once from the environment and passes
it down. Service commands live next to their service and register here. Errors a person
can fix are one line on stderr and exit code 2 (:mod:`ioc.console`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ioc import logs
from ioc.broker_admin.cli import app as broker_app
from ioc.config import InvalidSettings, Settings, load_settings
from ioc.console import DEBUG_HELP, run_app, version_option
from ioc.security.cli import app as keys_app
from ioc.security.users_cli import app as users_app

app = typer.Typer(
    name="ioc",
    help="Intelligent Operations Center: API, alert engine, migrations, keys.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(broker_app, name="broker")


@app.callback()
def root(
    version: Annotated[bool, version_option("ioc")] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Intelligent Operations Center."""


def settings() -> Settings:
    s = load_settings()
    logs.configure(s.log_level)
    return s


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (idempotent; safe with other replicas)."""
    from ioc.storage.migrate import migrate as run

    s = settings()
    features = run(s.database_url)
    logging.getLogger("ioc.migrate").info(
        "schema up to date", extra={"features": features.describe()}
    )


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="port to listen on"),
    certfile: str | None = typer.Option(
        None, help="serve HTTPS with this certificate (default IOC_API_TLS_CERTFILE)"
    ),
    keyfile: str | None = typer.Option(None, help="its key (default IOC_API_TLS_KEYFILE)"),
) -> None:
    """The operations center API (HTTP, or HTTPS when given a certificate and key)."""
    import uvicorn

    from ioc.api.app import create_app

    s = settings()
    cert, key = certfile or s.api_tls_certfile, keyfile or s.api_tls_keyfile
    if (cert is None) != (key is None):
        raise InvalidSettings(
            "HTTPS needs both a certificate and its key"
            " (--certfile/--keyfile or IOC_API_TLS_CERTFILE/IOC_API_TLS_KEYFILE)"
        )
    for what, path in (("certificate", cert), ("key", key)):
        if path is not None and not os.access(path, os.R_OK):
            raise InvalidSettings(f"the API's TLS {what} {path!r} is not a readable file")
    uvicorn.run(
        create_app(s),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=False,  # X-Forwarded-*: only from IOC_TRUSTED_PROXIES (ioc.api.middleware)
        ssl_certfile=cert,
        ssl_keyfile=key,
    )


@app.command()
def certs(
    directory: Path = typer.Argument(Path(".run/tls"), help="where the files go"),
    host: list[str] = typer.Option(
        [], "--host", help="a name or address of the server certificate (repeat)"
    ),
    owner: int | None = typer.Option(
        None, help="uid (and gid) to own the files, when run as root (compose)"
    ),
) -> None:
    """A private CA and certificates for TLS (broker, API, mutual-TLS client); kept when
    they exist. Clients trust DIRECTORY/ca.pem (IOC_MQTT_CA_FILE)."""
    from ioc.broker_admin.certs import CertificateError, ensure

    try:
        files = ensure(directory, host, owner)
    except CertificateError as exc:
        raise InvalidSettings(str(exc)) from None
    typer.echo(f"CA (trust this): {files.ca}")
    typer.echo(f"server: {files.server_cert} {files.server_key}")
    typer.echo(f"client (mutual TLS): {files.client_cert} {files.client_key}")


@app.command()
def alerts() -> None:
    """The alert engine and its notification outbox (partition: IOC_ALERTS_DOMAINS)."""
    from ioc.services.alerts import run

    run(settings())


def main(argv: Sequence[str] | None = None, prog: str = "ioc") -> int:
    """The ``ioc`` console script: run a command, return its exit code."""
    return run_app(app, prog, argv)
