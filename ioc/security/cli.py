"""``python -m ioc keys``: create (shown once), list and revoke API keys."""

from __future__ import annotations

import typer

from ioc.config import load_settings
from ioc.errors import NotFound
from ioc.security import audit
from ioc.security.keys import create_key, list_keys, revoke_key
from ioc.security.roles import Role
from ioc.storage.db import connect, translated
from ioc.storage.migrate import migrate

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)

_CLI = audit.Actor("cli", None, "local")


@app.command()
def create(
    role: Role = typer.Option(..., "--role", help="viewer, operator, admin or goc"),
    name: str = typer.Option("", "--name", help="who or what the key is for"),
    district: str | None = typer.Option(
        None, "--district", help="limit a viewer or operator key to this district"
    ),
) -> None:
    """Create a key and print it once; only its hash is stored."""
    s = load_settings()
    migrate(s.database_url)
    with translated(), connect(s.database_url) as conn:
        key, record = create_key(conn, role, name, district=district)
        detail = {"role": role.value, "name": name, "district": district}
        audit.record(conn, _CLI, "key.create", record.label, detail)
    typer.echo(key)
    typer.echo(
        f"# role {role.value}, prefix {record.prefix}: store it now, it is not shown again",
        err=True,
    )


@app.command("list")
def list_() -> None:
    """Keys by prefix, role, name and state (never the keys themselves)."""
    s = load_settings()
    migrate(s.database_url)
    with translated(), connect(s.database_url) as conn:
        for k in list_keys(conn):
            state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "live"
            typer.echo(f"{k.prefix}\t{k.role.value}\t{k.district or '*'}\t{state}\t{k.name}")


@app.command()
def revoke(prefix: str = typer.Argument(..., help="the key's prefix (see `keys list`)")) -> None:
    """Revoke a key at once."""
    s = load_settings()
    migrate(s.database_url)
    try:
        with translated(), connect(s.database_url) as conn:
            record = revoke_key(conn, prefix)
            audit.record(conn, _CLI, "key.revoke", record.label)
    except NotFound as exc:
        raise NotFound(f"{exc} (`ioc keys list` shows the prefixes)") from None
    typer.echo(f"revoked {record.prefix} ({record.role.value})")
