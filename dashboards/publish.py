"""Push folders, the datasource and the dashboards to a running Grafana, idempotently.

Through grafana-client, against Grafana's documented HTTP API: a folder or datasource
that exists is updated in place (by uid), one that does not is created; a dashboard is
saved only when it differs from what Grafana holds, so a second run changes nothing.
The client's errors are translated here, once: Grafana not reachable →
:class:`GrafanaUnavailable`, a token refused → :class:`ioc.errors.Unauthorized`, a token
with too low a role → :class:`ioc.errors.Forbidden`, anything else Grafana refuses →
:class:`GrafanaRejected`, each with a message that says what to fix.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from dashboards.generate import FOLDERS, Board, Folder, boards
from dashboards.model import API_VAR, DATASOURCE_TYPE, DATASOURCE_UID, Json, api_constant
from ioc.errors import Forbidden, IOCError, Unauthorized, Unavailable

log = logging.getLogger("dashboards.publish")

T = TypeVar("T")


class GrafanaUnavailable(Unavailable):
    """Grafana did not answer (refused, timed out, name not resolved, 5xx)."""


class GrafanaRejected(IOCError):
    """Grafana answered, and refused a request for a reason other than credentials."""


@dataclass(frozen=True, slots=True)
class DatasourceSpec:
    """The PostgreSQL datasource as Grafana's server must reach it."""

    host: str
    port: int
    database: str
    user: str
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> DatasourceSpec:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError(
                f"datasource URL must be postgresql://user[:pass]@host:port/db, got {url!r}"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or 5432,
            database=parts.path.lstrip("/") or "postgres",
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
        )

    def body(self) -> Json:
        body: Json = {
            "uid": DATASOURCE_UID,
            "name": "IOC TimescaleDB",
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": f"{self.host}:{self.port}",
            "user": self.user,
            "isDefault": True,
            "jsonData": {
                "database": self.database,
                "sslmode": "disable",
                "postgresVersion": 1500,
                "timescaledb": True,
            },
        }
        if self.password is not None:
            body["secureJsonData"] = {"password": self.password}
        return body


@dataclass(slots=True)
class Report:
    """What a run did: uid → "created", "updated" or "unchanged"."""

    folders: dict[str, str] = field(default_factory=dict)
    datasource: str | None = None
    dashboards: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        def count(d: dict[str, str]) -> str:
            return ", ".join(f"{n} {k}" for k, n in sorted(Counter(d.values()).items())) or "none"

        ds = self.datasource or "skipped"
        folders, boards_ = count(self.folders), count(self.dashboards)
        return f"folders: {folders}; datasource: {ds}; dashboards: {boards_}"


def connect(url: str, token: str | None, *, timeout: float = 5.0) -> GrafanaApi:
    """A client for the Grafana at ``url``; ``token`` is a service-account token, or
    None to use ``user:password@`` from the URL."""
    api: GrafanaApi = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    return api


def redact(url: str) -> str:
    """The URL without ``user:password@``, for messages and logs."""
    parts = urlsplit(url)
    if parts.hostname is None or "@" not in parts.netloc:
        return url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=host).geturl()


def with_api_url(model: Json, api_url: str) -> Json:
    """The dashboard with its hidden API variable a constant: ``api_url``."""
    variables = [
        api_constant(api_url) if v.get("name") == API_VAR else v
        for v in model["templating"]["list"]
    ]
    return dict(model, templating={"list": variables})


class Publisher:
    def __init__(self, grafana: GrafanaApi, *, url: str = "") -> None:
        self.grafana = grafana
        self.url = redact(url or str(getattr(grafana, "url", "") or "Grafana"))

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except GrafanaUnauthorizedError as exc:
            raise Unauthorized(
                f"Grafana at {self.url} refused the credentials while {doing} (401): "
                "check the service-account token (GRAFANA_TOKEN) or user:password in the URL"
            ) from exc
        except GrafanaClientError as exc:
            if exc.status_code == 403:
                raise Forbidden(
                    f"Grafana at {self.url} denied {doing} (403): the token needs the Admin "
                    "role (datasources) or Editor (folders, dashboards)"
                ) from exc
            raise GrafanaRejected(
                f"Grafana at {self.url} refused {doing} ({exc.status_code}): {exc.message}"
            ) from exc
        except GrafanaException as exc:  # 5xx, timeouts, transport errors it wrapped
            raise GrafanaUnavailable(
                f"Grafana at {self.url} failed while {doing}: {exc.message}"
            ) from exc
        except niquests.exceptions.RequestException as exc:
            raise GrafanaUnavailable(
                f"Grafana is not reachable at {self.url} ({type(exc).__name__}): is it "
                "running, and is the URL right?"
            ) from exc

    def _call(self, doing: str, fn: Callable[..., T], *args: Any) -> T:
        with self._translated(doing):
            return fn(*args)

    def _get(self, doing: str, fn: Callable[..., Json], *args: Any) -> Json | None:
        """GET that answers None for 404 (the thing does not exist yet)."""
        try:
            with self._translated(doing):
                return fn(*args)
        except GrafanaRejected as exc:
            cause = exc.__cause__
            if isinstance(cause, GrafanaClientError) and cause.status_code == 404:
                return None
            raise

    def check(self) -> Json:
        """Reach Grafana and prove the credentials, before changing anything."""
        org: Json = self._call(
            "reading the current organization", self.grafana.organization.get_current_organization
        )
        return org

    def folder(self, f: Folder) -> str:
        found = self._get(f"reading folder {f.uid}", self.grafana.folder.get_folder, f.uid)
        if found is None:
            self._call(
                f"creating folder {f.uid}", self.grafana.folder.create_folder, f.title, f.uid
            )
            return "created"
        if found.get("title") == f.title:
            return "unchanged"
        # update_folder(uid, title, version, overwrite)
        self._call(
            f"renaming folder {f.uid}",
            self.grafana.folder.update_folder,
            f.uid,
            f.title,
            None,
            True,
        )
        return "updated"

    def datasource(self, spec: DatasourceSpec) -> str:
        ds = self.grafana.datasource
        found = self._get("reading the datasource", ds.get_datasource_by_uid, DATASOURCE_UID)
        body = spec.body()
        if found is None:
            self._call("creating the datasource", ds.create_datasource, body)
            return "created"
        self._call("updating the datasource", ds.update_datasource_by_uid, DATASOURCE_UID, body)
        return "updated"

    def dashboard(self, board: Board, api_url: str) -> str:
        model = with_api_url(board.model, api_url)
        uid = model["uid"]
        found = self._get(f"reading dashboard {uid}", self.grafana.dashboard.get_dashboard, uid)
        if found is not None:
            current = {
                k: v for k, v in found.get("dashboard", {}).items() if k not in ("id", "version")
            }
            folder_uid = found.get("meta", {}).get("folderUid")
            if current == {k: v for k, v in model.items() if k != "version"} and (
                folder_uid == board.folder.uid
            ):
                return "unchanged"
        body = {
            "dashboard": dict(model, id=None),
            "folderUid": board.folder.uid,
            "overwrite": True,
            "message": "published by python -m dashboards publish",
        }
        self._call(f"saving dashboard {uid}", self.grafana.dashboard.update_dashboard, body)
        return "created" if found is None else "updated"

    def publish(
        self,
        *,
        api_url: str,
        datasource: DatasourceSpec | None,
        to_publish: Sequence[Board] | None = None,
    ) -> Report:
        self.check()
        report = Report()
        for f in FOLDERS:
            report.folders[f.uid] = self.folder(f)
        if datasource is not None:
            report.datasource = self.datasource(datasource)
        for board in boards() if to_publish is None else to_publish:
            report.dashboards[board.model["uid"]] = self.dashboard(board, api_url)
        log.info("published", extra={"grafana": self.url, "summary": report.summary()})
        return report
