"""``ioc`` / ``python -m ioc``: the operations center's commands.

Each command builds :class:`~ioc.config.Settings` once from the environment and passes
it down. Service commands live next to their service and register here. Errors a person
can fix are one line on stderr and exit code 2 (:mod:`ioc.console`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated

import typer

from ioc import logs
from ioc.broker_admin.cli import app as broker_app
from ioc.config import Settings, load_settings
from ioc.console import DEBUG_HELP, run_app, version_option
from ioc.security.cli import app as keys_app

app = typer.Typer(
    name="ioc",
    help="Intelligent Operations Center: API, alert engine, migrations, keys.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
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
) -> None:
    """The operations center API (HTTP)."""
    import uvicorn

    from ioc.api.app import create_app

    s = settings()
    uvicorn.run(create_app(s), host=host, port=port, log_config=None, proxy_headers=True)


@app.command()
def alerts() -> None:
    """The alert engine and its notification outbox (partition: IOC_ALERTS_DOMAINS)."""
    from ioc.services.alerts import run

    run(settings())


def main(argv: Sequence[str] | None = None, prog: str = "ioc") -> int:
    """The ``ioc`` console script: run a command, return its exit code."""
    return run_app(app, prog, argv)
