"""The publisher against a fake of Grafana's documented HTTP API on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.generate import FOLDERS, boards
from dashboards.model import API_VAR, DATASOURCE_TYPE, DATASOURCE_UID
from dashboards.publish import (
    DatasourceSpec,
    GrafanaRejected,
    GrafanaUnavailable,
    Publisher,
    connect,
    redact,
)
from ioc.errors import Forbidden, Unauthorized
from testkit.broker import free_port
from tests.dashboards.fake_grafana import FakeGrafana

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"admin-token": "Admin", "viewer-token": "Viewer", "editor-token": "Editor"}
DB = DatasourceSpec.from_url("postgresql://grafana:s3cret@db.internal:5432/ioc")
API = "https://ioc.example.org"


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana(TOKENS) as g:
        yield g


def publisher(grafana: FakeGrafana, token: str = "admin-token") -> Publisher:
    return Publisher(connect(grafana.url, token, timeout=2), url=grafana.url)


def test_first_publish_creates_folders_datasource_and_dashboards(grafana: FakeGrafana) -> None:
    report = publisher(grafana).publish(api_url=API, datasource=DB)

    assert report.folders == {f.uid: "created" for f in FOLDERS}
    assert report.datasource == "created"
    assert set(report.dashboards.values()) == {"created"}
    state = grafana.state
    assert {uid: f["title"] for uid, f in state.folders.items()} == {
        f.uid: f.title for f in FOLDERS
    }
    ds = state.datasources[DATASOURCE_UID]
    assert ds["type"] == DATASOURCE_TYPE
    assert ds["url"] == "db.internal:5432"
    assert ds["user"] == "grafana"
    assert ds["jsonData"]["database"] == "ioc"
    assert ds["secureJsonData"] == {"password": "s3cret"}
    for board in boards():
        stored = state.dashboards[board.model["uid"]]
        assert stored["folderUid"] == board.folder.uid
        api_var = next(v for v in stored["dashboard"]["templating"]["list"] if v["name"] == API_VAR)
        assert api_var["query"] == API
        assert api_var["current"]["value"] == API


def test_second_publish_changes_nothing(grafana: FakeGrafana) -> None:
    publisher(grafana).publish(api_url=API, datasource=DB)
    versions = {uid: d["dashboard"]["version"] for uid, d in grafana.state.dashboards.items()}
    grafana.state.requests.clear()

    report = publisher(grafana).publish(api_url=API, datasource=DB)

    assert set(report.folders.values()) == {"unchanged"}
    assert set(report.dashboards.values()) == {"unchanged"}
    after = {uid: d["dashboard"]["version"] for uid, d in grafana.state.dashboards.items()}
    assert after == versions
    # The only write is the datasource update (its password cannot be read back).
    assert grafana.writes() == [("PUT", f"/api/datasources/uid/{DATASOURCE_UID}")]
    assert len(grafana.state.folders) == len(FOLDERS)
    assert len(grafana.state.datasources) == 1


def test_a_dashboard_edited_in_grafana_is_restored(grafana: FakeGrafana) -> None:
    publisher(grafana).publish(api_url=API, datasource=None)
    edited = grafana.state.dashboards["ioc-wall"]["dashboard"]
    edited["title"] = "someone renamed it"
    grafana.state.folders["ioc-domains"]["title"] = "renamed"

    report = publisher(grafana).publish(api_url=API, datasource=None)

    assert report.dashboards["ioc-wall"] == "updated"
    assert report.folders["ioc-domains"] == "updated"
    assert report.datasource is None
    assert grafana.state.dashboards["ioc-wall"]["dashboard"]["title"] == "IOC · Control-room wall"
    assert grafana.state.folders["ioc-domains"]["title"] == "IOC · Domains"
    assert DATASOURCE_UID not in grafana.state.datasources


def test_wrong_token_is_reported_before_anything_changes(grafana: FakeGrafana) -> None:
    with pytest.raises(Unauthorized, match=r"refused the credentials .*\(401\).*token"):
        publisher(grafana, "not-a-token").publish(api_url=API, datasource=DB)
    assert grafana.writes() == []


def test_a_token_with_too_low_a_role_is_named(grafana: FakeGrafana) -> None:
    with pytest.raises(Forbidden, match=r"\(403\).*role"):
        publisher(grafana, "viewer-token").publish(api_url=API, datasource=DB)
    # An Editor may publish dashboards but not the datasource.
    with pytest.raises(Forbidden, match="datasource"):
        publisher(grafana, "editor-token").publish(api_url=API, datasource=DB)
    report = publisher(grafana, "editor-token").publish(api_url=API, datasource=None)
    assert set(report.dashboards.values()) == {"created"}


def test_unreachable_grafana_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(GrafanaUnavailable, match=rf"not reachable at {url}"):
        Publisher(connect(url, "admin-token", timeout=2)).publish(api_url=API, datasource=DB)


def test_server_errors_and_refusals_are_translated(grafana: FakeGrafana) -> None:
    grafana.state.fail_with = 500
    with pytest.raises(GrafanaUnavailable, match="500"):
        publisher(grafana).publish(api_url=API, datasource=DB)
    grafana.state.fail_with = None
    board = boards()[0]
    broken = type(board)(FOLDERS[0], "broken", dict(board.model, title=""))
    with pytest.raises(GrafanaRejected, match=r"saving dashboard ioc-wall \(400\)"):
        publisher(grafana).publish(api_url=API, datasource=None, to_publish=[broken])


def test_credentials_never_appear_in_messages() -> None:
    assert redact("http://admin:hunter2@grafana:3000/") == "http://grafana:3000/"
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(GrafanaUnavailable) as err:
        Publisher(connect(url, None, timeout=2)).publish(api_url=API, datasource=None)
    assert "hunter2" not in str(err.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboards", "publish", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_publishes_and_reports(grafana: FakeGrafana) -> None:
    done = _cli("--grafana-url", grafana.url, "--token", "admin-token", "--api-url", API)
    assert done.returncode == 0, done.stderr
    assert "dashboards: 6 created" in done.stdout
    again = _cli("--grafana-url", grafana.url, "--token", "admin-token", "--skip-datasource")
    assert again.returncode == 0, again.stderr
    assert "dashboards: 6 unchanged" not in again.stdout  # the API URL changed back
    assert "folders: 3 unchanged" in again.stdout


def test_cli_bad_token_exits_2_without_a_traceback(grafana: FakeGrafana) -> None:
    done = _cli("--grafana-url", grafana.url, "--token", "wrong")
    assert done.returncode == 2
    assert "error: Grafana at" in done.stderr
    assert "401" in done.stderr
    assert "Traceback" not in done.stderr
