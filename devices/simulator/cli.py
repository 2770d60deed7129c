"""``python -m devices.simulator``: a city's worth of devices on demand.

Examples::

    python -m devices.simulator --per-domain 25                       # live, forever
    python -m devices.simulator --dry-run --duration 600 --seed 7 | head
    python -m devices.simulator --scenario fridge_failure --scenario-at 30 --interval 5
    python -m devices.simulator --fault nan=0.01 --fault duplicate=0.005
    python -m devices.simulator --list-scenarios
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated

import typer

from devices.simulator.engine import Simulator
from devices.simulator.faults import FaultPlan, parse_rates
from devices.simulator.fleet import DEFAULT_DISTRICTS, Fleet
from devices.simulator.provision import api_client, provision
from devices.simulator.run import Progress, run
from devices.simulator.scenarios import SCENARIOS
from devices.simulator.sinks import PER_DEVICE_LIMIT, DryRun, PerDevice, Pooled, Sink
from ioc.config import MqttEndpoint, load_settings, parse_mqtt_url
from ioc.console import DEBUG_HELP, run_app, version_option
from ioc.errors import BrokerUnavailable, IOCError
from ioc.telemetry.catalog import DOMAINS
from ioc.telemetry.payloads import parse_timestamp

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)

#: Offsets from UTC that places on Earth use, in hours.
UTC_OFFSETS = (-12.0, 14.0)


def _more_than(minimum: float, what: str) -> Callable[[float | None], float | None]:
    """An option callback: a finite number above ``minimum`` (None passes: not given)."""

    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > minimum):
            raise typer.BadParameter(f"{what}: must be more than {minimum:g}, got {value:g}")
        return value

    return check


def _at_least(minimum: float, what: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not (math.isfinite(value) and value >= minimum):
            raise typer.BadParameter(f"{what}: must be {minimum:g} or more, got {value:g}")
        return value

    return check


def _utc_offset(value: float) -> float:
    low, high = UTC_OFFSETS
    if not (math.isfinite(value) and low <= value <= high):
        raise typer.BadParameter(f"hours from UTC, from {low:+g} to {high:+g}; got {value:g}")
    return value


def _mqtt_url(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_mqtt_url(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def _api_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"must be an http:// or https:// URL, got {value!r}")
    return value


def _domains(value: str) -> str:
    names = [d.strip() for d in value.split(",") if d.strip()]
    unknown = [d for d in names if d not in DOMAINS]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown domains: {', '.join(unknown) or '(none given)'}; known: {', '.join(DOMAINS)}"
        )
    return value


def _scenarios(value: list[str] | None) -> list[str] | None:
    for name in value or []:
        if name not in SCENARIOS:
            raise typer.BadParameter(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return value


def _faults(value: list[str] | None) -> list[str] | None:
    try:
        parse_rates(value or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def _districts(spec: str | None) -> tuple[str, ...]:
    """A comma list of names, or a count (the first N default names, then district-K)."""
    if not spec:
        return DEFAULT_DISTRICTS
    if spec.isdigit():
        n = int(spec)
        if n < 1:
            raise typer.BadParameter("at least one district", param_hint="'--districts'")
        return tuple(
            DEFAULT_DISTRICTS[i] if i < len(DEFAULT_DISTRICTS) else f"district-{i + 1}"
            for i in range(n)
        )
    names = tuple(name.strip() for name in spec.split(",") if name.strip())
    if not names:
        raise typer.BadParameter("a comma list of names, or a count", param_hint="'--districts'")
    return names


def _start(spec: str | None, interval_s: float) -> datetime:
    if spec:
        try:
            return parse_timestamp(spec if not spec.isdigit() else int(spec))
        except IOCError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--start'") from None
    now = datetime.now(UTC).timestamp()
    return datetime.fromtimestamp(math.floor(now / interval_s) * interval_s, UTC)


def _scenario_list() -> str:
    fleet = Fleet.build(2)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = {}
    for name, cls in SCENARIOS.items():
        scenario = cls(fleet, fleet.districts[0], start)
        out[name] = {
            "summary": cls.summary,
            "domain": cls.domain,
            "duration_s": cls.duration_s,
            "expected_alerts": [
                {k: v for k, v in e.as_dict().items() if k != "devices"}
                for e in scenario.expected_alerts()
            ],
            "expected_incidents": [
                {"policy": i.policy, "procedure": i.procedure, "alerts": len(i.alerts)}
                for i in scenario.expected_incidents()
            ],
        }
    return json.dumps(out, indent=2, ensure_ascii=False)


@app.command()
def simulate(
    per_domain: Annotated[int, typer.Option(min=1, help="devices in each domain")] = 25,
    domains: Annotated[
        str, typer.Option(callback=_domains, help="comma list of domains")
    ] = ",".join(DOMAINS),
    districts: Annotated[str | None, typer.Option(help="comma list of names, or a count")] = None,
    interval: Annotated[
        float,
        typer.Option(
            callback=_more_than(0, "seconds between samples"), help="seconds between samples"
        ),
    ] = 10.0,
    duration: Annotated[
        float | None,
        typer.Option(
            callback=_more_than(0, "simulated seconds"),
            help="simulated seconds (default: forever; 600 in dry-run)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    start: Annotated[
        str | None, typer.Option(help="simulated start, RFC 3339 (default: now)")
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            callback=_mqtt_url,
            help="mqtt[s]://[user:pass@]host:port (default IOC_MQTT_URL)",
        ),
    ] = None,
    ca_file: Annotated[
        str | None, typer.Option(help="CA for an mqtts:// URL (default IOC_MQTT_CA_FILE)")
    ] = None,
    cert_file: Annotated[
        str | None,
        typer.Option(help="client certificate, mutual TLS (default IOC_MQTT_CERT_FILE)"),
    ] = None,
    key_file: Annotated[
        str | None, typer.Option(help="its key (default IOC_MQTT_KEY_FILE)")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(callback=_scenarios, help=f"one of {', '.join(SCENARIOS)}"),
    ] = None,
    scenario_at: Annotated[
        float,
        typer.Option(callback=_at_least(0, "seconds after start"), help="seconds after start"),
    ] = 60.0,
    scenario_district: Annotated[str | None, typer.Option(help="default: the first")] = None,
    fault: Annotated[
        list[str] | None, typer.Option(callback=_faults, help="KIND=RATE, e.g. nan=0.01")
    ] = None,
    skew_s: Annotated[
        float,
        typer.Option(
            callback=_at_least(0, "seconds ahead"), help="clock_skew fault: seconds ahead"
        ),
    ] = 120.0,
    dry_run: Annotated[bool, typer.Option(help="JSON lines on stdout; no broker")] = False,
    qos: Annotated[int, typer.Option(min=0, max=1)] = 1,
    connections: Annotated[int, typer.Option(min=1, help="pooled connections")] = 4,
    per_device: Annotated[
        bool, typer.Option(help=f"one connection and last will per device (≤ {PER_DEVICE_LIMIT})")
    ] = False,
    prefix: Annotated[str, typer.Option(help="device id prefix")] = "sim",
    utc_offset: Annotated[
        float, typer.Option(callback=_utc_offset, help="the city's offset from UTC, hours")
    ] = 7.0,
    provision_devices: Annotated[
        bool, typer.Option("--provision", help="register the devices through the API first")
    ] = False,
    api_url: Annotated[
        str | None, typer.Option(callback=_api_url, help="default IOC_API_URL")
    ] = None,
    api_key: Annotated[str | None, typer.Option(envvar="IOC_API_KEY", show_default=False)] = None,
    progress_every: Annotated[
        float,
        typer.Option(
            callback=_more_than(0, "seconds between progress lines"),
            help="seconds between progress lines",
        ),
    ] = 5.0,
    list_scenarios: Annotated[bool, typer.Option(help="print scenarios as JSON and exit")] = False,
    version: Annotated[bool, version_option("ioc-sim")] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Simulate traffic, energy, agriculture and health devices over MQTT."""
    if list_scenarios:
        typer.echo(_scenario_list())
        return
    settings = load_settings()
    try:
        fleet = Fleet.build(
            per_domain,
            seed=seed,
            districts=_districts(districts),
            domains=[d.strip() for d in domains.split(",") if d.strip()],
            prefix=prefix,
        )
    except ValueError as exc:  # what the callbacks leave: a prefix that breaks device ids
        raise typer.BadParameter(str(exc), param_hint="'--prefix'") from None
    begin = _start(start, interval)
    at = datetime.fromtimestamp(begin.timestamp() + scenario_at, UTC)
    where = scenario_district or fleet.districts[0]
    try:
        scenarios = [SCENARIOS[name](fleet, where, at) for name in scenario or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--scenario-district'") from None
    faults = FaultPlan(parse_rates(fault or []), fleet, seed, skew_s)
    sim = Simulator(
        fleet,
        start=begin,
        interval_s=interval,
        seed=seed,
        scenarios=scenarios,
        faults=faults,
        utc_offset_h=utc_offset,
    )
    if duration is None and dry_run:
        duration = 600.0
    steps = None if duration is None else max(1, math.ceil(duration / interval))
    try:
        sink = _sink(
            fleet,
            dry_run=dry_run,
            qos=qos,
            endpoint=parse_mqtt_url(
                mqtt_url or settings.mqtt_url,
                ca_file=ca_file or settings.mqtt_ca_file,
                cert_file=cert_file or settings.mqtt_cert_file,
                key_file=key_file or settings.mqtt_key_file,
            ),
            connections=connections,
            per_device=per_device,
            provision_with=(api_url or settings.api_url, api_key) if provision_devices else None,
        )
        progress = Progress(sink.stats, sys.stderr, progress_every)
        done = run(sim, sink, steps, realtime=not dry_run, progress=progress)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except BrokenPipeError:
        # `--dry-run | head`: the reader has had enough; leave without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except BrokerUnavailable as exc:
        typer.echo(f"simulator: the MQTT broker (--mqtt-url / IOC_MQTT_URL): {exc}", err=True)
        raise typer.Exit(1) from None
    except IOCError as exc:
        typer.echo(f"simulator: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(progress.summary(sim, done), err=True)


def _sink(
    fleet: Fleet,
    *,
    dry_run: bool,
    qos: int,
    endpoint: MqttEndpoint,
    connections: int,
    per_device: bool,
    provision_with: tuple[str, str | None] | None,
) -> Sink:
    if dry_run:
        if provision_with:
            raise typer.BadParameter(
                "registers devices through the API: not with --dry-run", param_hint="'--provision'"
            )
        return DryRun(sys.stdout, len(fleet), qos)
    users: dict[str, tuple[str, str]] = {}
    if provision_with:
        url, key = provision_with
        typer.echo(f"simulator: registering {len(fleet):,} devices at {url}", err=True)
        with api_client(url, key) as client:
            done = provision(client, fleet.devices, keep_existing=True)
        users = done.users()
        if done.existing:
            # Their passwords were shown once, to an earlier run: publish for every
            # device through the pool, with the (simulator) account of the MQTT URL.
            typer.echo(
                f"simulator: {len(done.existing):,} devices were registered already; "
                "publishing through the pool with the credentials of the MQTT URL",
                err=True,
            )
            users = {}
        elif users and len(fleet) <= PER_DEVICE_LIMIT:
            per_device = True
        elif users:
            typer.echo(
                f"simulator: {len(fleet):,} devices are too many for a connection each; "
                "publishing through the pool with the credentials of the MQTT URL",
                err=True,
            )
            users = {}
    if per_device:
        domains = {d.device_id: d.domain for d in fleet.devices}
        return PerDevice(endpoint, domains, users, qos)
    return Pooled(endpoint, len(fleet), connections, qos)


def main(argv: Sequence[str] | None = None, prog: str = "ioc-sim") -> int:
    """The ``ioc-sim`` console script: simulate, return the exit code."""
    return run_app(app, prog, argv)
