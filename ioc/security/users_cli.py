"""``python -m ioc users``: create, list, disable person accounts and reset passwords.

Passwords are asked for twice without echo, or read from stdin with
``--password-stdin`` (for set-up scripts); never taken as an argument, where the shell
history and the process list would keep them. Every change is in the audit log.
"""

from __future__ import annotations

import sys

import typer

from ioc.config import load_settings
from ioc.security import audit, sessions, users
from ioc.security.passwords import MIN_LENGTH
from ioc.security.roles import Role
from ioc.storage.db import connect, translated
from ioc.storage.migrate import migrate

app = typer.Typer(
    help="Person accounts: create, list, disable, reset-password.", no_args_is_help=True
)

_CLI = audit.Actor("cli", None, "local")

_STDIN = typer.Option(False, "--password-stdin", help="read the password from stdin")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt(
        f"Password (at least {MIN_LENGTH} characters)", hide_input=True, confirmation_prompt=True
    )
    return value


def _url() -> str:
    s = load_settings()
    migrate(s.database_url)
    return s.database_url


@app.command()
def create(
    login: str = typer.Argument(..., help="how the person signs in, e.g. an.nguyen"),
    role: Role = typer.Option(..., "--role", help="viewer, operator, admin or goc"),
    name: str = typer.Option("", "--name", help="the person's full name"),
    district: str | None = typer.Option(
        None, "--district", help="limit a viewer or operator to this district"
    ),
    password_stdin: bool = _STDIN,
) -> None:
    """Create a person account."""
    url = _url()
    password = _password(password_stdin)
    with translated(), connect(url) as conn:
        user = users.create_user(conn, login, password, role, name=name, district=district)
        detail = {"role": role.value, "name": name, "district": district}
        audit.record(conn, _CLI, "user.create", f"user:{user.login}", detail)
    scope = f", district {district}" if district else ""
    typer.echo(f"created {user.login} ({role.value}{scope})")


@app.command("list")
def list_() -> None:
    """Logins, roles, districts and states (never a password or its hash)."""
    with translated(), connect(_url()) as conn:
        for u in users.list_users(conn):
            state = f"disabled {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "enabled"
            typer.echo(f"{u.login}\t{u.role.value}\t{u.district or '*'}\t{state}\t{u.name}")


@app.command()
def disable(login: str = typer.Argument(..., help="the login to disable")) -> None:
    """Disable an account: it cannot sign in, and its sessions end at once."""
    with translated(), connect(_url()) as conn:
        user = users.disable(conn, login)
        ended = sessions.revoke_user(conn, user.id)
        audit.record(conn, _CLI, "user.disable", f"user:{user.login}", {"sessions_ended": ended})
    typer.echo(f"disabled {user.login}; {ended} session(s) ended")


@app.command("reset-password")
def reset_password(
    login: str = typer.Argument(..., help="whose password"), password_stdin: bool = _STDIN
) -> None:
    """Set a new password; the person's sessions end."""
    url = _url()
    password = _password(password_stdin)
    with translated(), connect(url) as conn:
        user = users.set_password(conn, login, password)
        ended = sessions.revoke_user(conn, user.id)
        audit.record(conn, _CLI, "user.reset_password", f"user:{user.login}")
    typer.echo(f"new password set for {user.login}; {ended} session(s) ended")
