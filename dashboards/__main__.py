"""``python -m dashboards``: generate the dashboard files, check them, publish them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from dashboards import generate
from ioc import logs
from ioc.config import load_settings
from ioc.console import DEBUG_HELP, run_app, version_option
from ioc.errors import IOCError

app = typer.Typer(
    name="dashboards",
    help="Control-room dashboards as code: generate, check, publish to Grafana.",
    no_args_is_help=True,
    add_completion=False,
)

GrafanaDir = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="the deploy/grafana directory [default: the checkout's, else ./deploy/grafana]",
        show_default=False,
    ),
]


@app.callback()
def root(
    version: Annotated[bool, version_option("dashboards")] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Control-room dashboards as code."""


def _grafana_dir(given: Path | None, *, must_exist: bool) -> Path:
    """``--dir``, or the checkout's deploy/grafana, or (installed) ./deploy/grafana."""
    if given is None:
        given = generate.GRAFANA_DIR if generate.GRAFANA_DIR.is_dir() else Path("deploy/grafana")
    if must_exist and not given.is_dir():
        raise typer.BadParameter(
            f"no directory {str(given)!r}: run from the checkout or name it",
            param_hint="'--dir'",
        )
    return given


@app.command("generate")
def generate_cmd(directory: GrafanaDir = None) -> None:
    """Write deploy/grafana/ (dashboards and provisioning) from the code."""
    target = _grafana_dir(directory, must_exist=False)
    changed = generate.write(target)
    for rel in changed:
        typer.echo(f"wrote {target / rel}")
    typer.echo(f"{len(changed)} file(s) changed" if changed else "up to date")


@app.command()
def check(directory: GrafanaDir = None) -> None:
    """Fail when deploy/grafana/ differs from what the code generates (CI runs this)."""
    target = _grafana_dir(directory, must_exist=True)
    stale = generate.stale(target)
    if stale:
        for rel in stale:
            typer.echo(f"out of date: {target / rel}", err=True)
        typer.echo("run: python -m dashboards generate", err=True)
        raise typer.Exit(1)
    typer.echo(f"{target} is up to date")


@app.command()
def publish(
    grafana_url: Annotated[
        str, typer.Option(envvar="GRAFANA_URL", help="e.g. http://127.0.0.1:3000")
    ] = "http://127.0.0.1:3000",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="GRAFANA_TOKEN",
            help="service-account token (or put user:password in the URL)",
            show_default=False,
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="the API as the operators' browsers reach it [IOC_API_URL]")
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            envvar="IOC_GRAFANA_DB_URL",
            help="the database as Grafana's server reaches it [IOC_DATABASE_URL]",
        ),
    ] = None,
    skip_datasource: Annotated[
        bool, typer.Option("--skip-datasource", help="leave the datasource alone")
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 5.0,
) -> None:
    """Push folders, the datasource and the dashboards to a running Grafana."""
    from dashboards.publish import DatasourceSpec, Publisher, connect

    settings = load_settings()
    logs.configure(settings.log_level)
    datasource = (
        None if skip_datasource else DatasourceSpec.from_url(db_url or settings.database_url)
    )
    publisher = Publisher(connect(grafana_url, token, timeout=timeout), url=grafana_url)
    try:
        report = publisher.publish(api_url=api_url or settings.api_url, datasource=datasource)
    except IOCError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"published to {publisher.url}: {report.summary()}")


def main(argv: Sequence[str] | None = None, prog: str = "python -m dashboards") -> int:
    """Run a command; errors a person can fix are one line (:mod:`ioc.console`)."""
    return run_app(app, prog, argv)


if __name__ == "__main__":
    sys.exit(main())
