"""``python -m ioc``: the operations center's commands.

Each command builds :class:`~ioc.config.Settings` once from the environment and passes
it down. Service commands live next to their service and register here.
"""

from __future__ import annotations

import logging

import typer

from ioc import logs
from ioc.config import Settings

app = typer.Typer(
    name="ioc",
    help="Intelligent Operations Center: API, alert engine, migrations, keys.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Intelligent Operations Center."""


def settings() -> Settings:
    s = Settings()
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
