"""``python -m dashboards``: generate the dashboard files, check them, publish them."""

from __future__ import annotations

from typing import Annotated

import typer

from dashboards import generate
from ioc import logs
from ioc.config import Settings
from ioc.errors import IOCError

app = typer.Typer(
    name="dashboards",
    help="Control-room dashboards as code: generate, check, publish to Grafana.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("generate")
def generate_cmd() -> None:
    """Write deploy/grafana/ (dashboards and provisioning) from the code."""
    changed = generate.write()
    for rel in changed:
        typer.echo(f"wrote deploy/grafana/{rel}")
    typer.echo(f"{len(changed)} file(s) changed" if changed else "up to date")


@app.command()
def check() -> None:
    """Fail when deploy/grafana/ differs from what the code generates (CI runs this)."""
    stale = generate.stale()
    if stale:
        for rel in stale:
            typer.echo(f"out of date: deploy/grafana/{rel}", err=True)
        typer.echo("run: python -m dashboards generate", err=True)
        raise typer.Exit(1)
    typer.echo("deploy/grafana/ is up to date")


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

    settings = Settings()
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


if __name__ == "__main__":
    app(prog_name="python -m dashboards")
