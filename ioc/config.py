"""Settings, read from the environment (``IOC_*``) with working local defaults.

Build :class:`Settings` once in an entry point and pass it down; nothing reads the
environment anywhere else, so tests can hand in whatever they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ioc.errors import IOCError

ENV_PREFIX = "IOC_"
#: Secrets (API keys, shared secrets, tokens) shorter than this are refused when set.
MIN_SECRET_CHARS = 16
#: Passwords inside service URLs (database, broker) shorter than this are refused.
MIN_URL_PASSWORD_CHARS = 8
#: What .env.example and the docs put where a secret belongs.
_PLACEHOLDERS = ("change-me", "changeme", "change_me")


class InvalidSettings(IOCError):
    """A setting from the environment is unusable; the message names its variable."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None
    password: str | None
    #: ``mqtts://``: TLS, checked against ``ca_file`` (the system's CAs when None), and a
    #: client certificate for mutual TLS when ``cert_file`` is set.
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


def _port(parts: SplitResult, default: int) -> int:
    try:
        return parts.port or default
    except ValueError:  # not a number, or outside 0-65535
        raise ValueError(
            f"the port must be a number from 1 to 65535, got {parts.netloc!r}"
        ) from None


def parse_mqtt_url(
    url: str,
    *,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> MqttEndpoint:
    """``mqtt[s]://[user:pass@]host:port`` → its parts (port 1883, or 8883 for mqtts, when
    absent). The TLS files are used only by an ``mqtts://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(
            f"must look like mqtt://[user:pass@]host:port (or mqtts://), got {redact_url(url)!r}"
        )
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname,
        port=_port(parts, 8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
        ca_file=ca_file if tls else None,
        cert_file=cert_file if tls else None,
        key_file=key_file if tls else None,
    )


def _check_secret(value: str, minimum: int) -> None:
    if any(marker in value.lower() for marker in _PLACEHOLDERS):
        raise ValueError(
            "still the placeholder from .env.example; generate a real one"
            " (e.g. openssl rand -hex 32)"
        )
    if len(value) < minimum:
        raise ValueError(f"too short: at least {minimum} characters, got {len(value)}")


def _check_url_password(url: str) -> None:
    password = urlsplit(url).password
    if password is not None:
        try:
            _check_secret(unquote(password), MIN_URL_PASSWORD_CHARS)
        except ValueError as exc:
            raise ValueError(f"its password is {exc}") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_", extra="ignore")

    # The run contract (ARCHITECTURE.md).
    database_url: str = "postgresql://postgres@127.0.0.1:5433/ioc"
    mqtt_url: str = "mqtt://127.0.0.1:1884"
    api_url: str = "http://127.0.0.1:8000"
    bootstrap_admin_key: SecretStr | None = None
    goc_url: str | None = None
    goc_secret: SecretStr | None = None

    log_level: str = "INFO"

    # API, security and the GOC connector.
    broker_admin_url: SecretStr | None = Field(
        default=None,
        description="mqtt://admin:pass@host:port of the dynamic-security admin; unset = open"
        " broker, devices are registered without broker accounts",
    )
    center_id: str = Field(default="ioc-local", description="this center's id in GOC reports")

    # TLS (docs/broker.md): the CA that signed the broker's certificate, for mqtts:// URLs
    # (IOC_MQTT_URL and IOC_BROKER_ADMIN_URL), an optional client certificate for mutual
    # TLS, and the API's own certificate (HTTPS when both are set).
    mqtt_ca_file: str | None = Field(default=None, description="CA file for mqtts:// URLs")
    mqtt_cert_file: str | None = Field(default=None, description="client certificate (mTLS)")
    mqtt_key_file: str | None = Field(default=None, description="client certificate's key")
    api_tls_certfile: str | None = Field(default=None, description="API: serve HTTPS")
    api_tls_keyfile: str | None = Field(default=None, description="API: HTTPS key")
    goc_report_interval_s: int = Field(default=900, ge=60, le=86400)
    api_max_buckets: int = Field(default=10000, ge=10)

    # People, sessions and web security (README "People, sign-in and web security").
    bootstrap_admin_login: str | None = Field(
        default=None, description="with IOC_BOOTSTRAP_ADMIN_PASSWORD: this admin person exists"
    )
    bootstrap_admin_password: SecretStr | None = None
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=30 * 86400, description="sign-in")
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks whose X-Forwarded-For and"
        " X-Forwarded-Proto are believed; empty = none",
    )
    auth_failure_burst: int = Field(default=10, ge=1, description="failures before a 429")
    auth_failures_per_minute: float = Field(default=10.0, gt=0, description="refill rate")

    # Ingest.
    ingest_group: str = Field(default="ingest", description="shared-subscription group")
    ingest_client_id: str | None = Field(
        default=None, description="MQTT client id; stable per replica so its session persists"
    )
    ingest_batch_messages: int = Field(default=2000, ge=1)
    ingest_batch_wait_ms: int = Field(default=200, ge=1)
    ingest_receive_maximum: int = Field(
        default=20000,
        ge=1,
        le=65535,
        description="unacknowledged messages the broker may send at once: bounds ingest memory",
    )
    ingest_metrics_port: int = Field(default=9101, ge=0, le=65535)
    ingest_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    ingest_max_future_s: int = Field(default=300, ge=0)
    ingest_max_age_days: int = Field(default=30, ge=1)

    # Storage.
    rollup_refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="how often rollups the database does not maintain itself are refreshed",
    )
    retention_raw_days: int = Field(default=30, ge=1)
    retention_1m_days: int = Field(default=400, ge=1)
    retention_1h_days: int = Field(default=3650, ge=1)

    # Alert engine (one replica per partition; see README "Alert engine").
    alerts_domains: str = Field(
        default="", description="comma-separated domains this replica evaluates; empty = all"
    )
    alerts_districts: str = Field(
        default="", description="comma-separated districts this replica evaluates; empty = all"
    )
    alerts_client_id: str | None = None
    alerts_tick_s: float = Field(default=1.0, gt=0, le=60)
    alerts_reload_s: float = Field(default=5.0, gt=0, description="rules/registry re-read")
    alerts_restore_window_s: int = Field(
        default=900, ge=0, description="latest values younger than this are re-evaluated at start"
    )
    alerts_metrics_port: int = Field(default=9102, ge=0, le=65535)
    alerts_metrics_host: str = Field(
        default="127.0.0.1", description="where /metrics listens; 0.0.0.0 only when told"
    )
    alerts_webhook_url: str | None = None
    alerts_grafana_url: str | None = None
    alerts_grafana_token: SecretStr | None = None

    # The control-room console (``/ui/``).
    timezone: str = Field(
        default="UTC", description="the center's time zone for people, e.g. Asia/Ho_Chi_Minh"
    )
    map_geojson: str | None = Field(
        default=None, description="path of the district boundaries (GeoJSON); unset = demo city"
    )
    map_tiles_url: str | None = Field(
        default=None, description="the city's own tile server, {z}/{x}/{y}; unset = no tiles"
    )
    grafana_url: str | None = Field(default=None, description="Grafana, linked from the console")
    incident_escalate_major_s: float = Field(
        default=900, gt=0, le=7 * 86400, description="open major incident not taken: escalate"
    )
    incident_escalate_critical_s: float = Field(
        default=300, gt=0, le=7 * 86400, description="critical: escalate, and tell the GOC"
    )
    incident_webhook_url: str | None = Field(
        default=None, description="escalations go here (else to IOC_ALERTS_WEBHOOK_URL)"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for item in filter(None, (p.strip() for p in value.split(","))):
            try:
                ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA time zone, e.g. Asia/Ho_Chi_Minh: {value!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "must be a postgresql:// URL, e.g. postgresql://user:password@host:5432/ioc"
            )
        _port(urlsplit(value), 5432)
        _check_url_password(value)
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        _check_url_password(value)
        return value

    @field_validator("broker_admin_url")
    @classmethod
    def _broker_admin_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parse_mqtt_url(value.get_secret_value())
        _check_url_password(value.get_secret_value())
        return value

    @field_validator("bootstrap_admin_key", "goc_secret", "alerts_grafana_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        """Unset (or empty) is fine for local development; a set secret must be real."""
        if value is None or not value.get_secret_value():
            return None
        _check_secret(value.get_secret_value(), MIN_SECRET_CHARS)
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        return self.mqtt_endpoint(self.mqtt_url)

    @property
    def broker_admin(self) -> MqttEndpoint | None:
        """The dynamic-security admin's endpoint, with the TLS files; None: open broker."""
        if self.broker_admin_url is None:
            return None
        return self.mqtt_endpoint(self.broker_admin_url.get_secret_value())

    def mqtt_endpoint(self, url: str) -> MqttEndpoint:
        """``url`` parsed, with this center's TLS files (used by ``mqtts://`` only)."""
        return parse_mqtt_url(
            url,
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_cert_file,
            key_file=self.mqtt_key_file,
        )


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (``database_url`` → ``IOC_DATABASE_URL``)."""
    return ENV_PREFIX + field.upper()


def explain(exc: ValidationError) -> str:
    """One line naming each unusable variable and what it accepts (never its value)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = env_name(str(error["loc"][0])) if error["loc"] else "the settings"
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """:class:`Settings` from the environment, or :class:`InvalidSettings` naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InvalidSettings(explain(exc)) from None
