"""A fake of the parts of Grafana's HTTP API the publisher uses, on 127.0.0.1.

Behaviour follows Grafana's documented HTTP API (folders, data sources, dashboards,
organization): uids identify things, a missing one is 404 with ``{"message": ...}``,
a bad token is 401, a Viewer's token is 403 on writes, saving a dashboard bumps its
version and needs an existing folder. A real HTTP server rather than a mocked
transport, so grafana-client runs unmodified, connection errors included.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Json = dict[str, Any]


class State:
    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens  # token → role ("Admin", "Editor", "Viewer")
        self.folders: dict[str, Json] = {}
        self.datasources: dict[str, Json] = {}
        self.dashboards: dict[str, Json] = {}  # uid → {"dashboard", "folderUid"}
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _role(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.state.tokens.get(auth.removeprefix("Bearer "))
        if auth.startswith("Basic "):
            user = base64.b64decode(auth.removeprefix("Basic ")).decode()
            return "Admin" if user == "admin:admin" else None
        return None

    def _body(self) -> Json:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")  # type: ignore[no-any-return]

    def _handle(self, method: str) -> None:
        s = self.state
        with s.lock:
            s.requests.append((method, self.path))
            if s.fail_with:
                return self._send(s.fail_with, {"message": "internal server error"})
            role = self._role()
            if role is None:
                return self._send(401, {"message": "Invalid API key"})
            if method != "GET" and role == "Viewer":
                return self._send(403, {"message": "Permission denied"})
            if method != "GET" and "/datasources" in self.path and role != "Admin":
                return self._send(403, {"message": "Permission denied"})
            for pattern, handler in _ROUTES[method]:
                m = re.fullmatch(pattern, self.path.split("?")[0])
                if m:
                    status, body = handler(s, self._body() if method != "GET" else {}, *m.groups())
                    return self._send(status, body)
            return self._send(404, {"message": "Not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


def _org(s: State, body: Json) -> tuple[int, Json]:
    return 200, {"id": 1, "name": "Main Org.", "address": {}}


def _get_folder(s: State, body: Json, uid: str) -> tuple[int, Json]:
    if uid not in s.folders:
        return 404, {"message": "folder not found", "status": "not-found"}
    return 200, s.folders[uid]


def _create_folder(s: State, body: Json) -> tuple[int, Json]:
    if not body.get("title"):
        return 400, {"message": "folder title cannot be empty"}
    uid = body.get("uid") or f"f{len(s.folders) + 1}"
    if uid in s.folders:
        return 409, {"message": "a folder with the same uid already exists"}
    s.folders[uid] = {"id": len(s.folders) + 1, "uid": uid, "title": body["title"], "version": 1}
    return 200, s.folders[uid]


def _update_folder(s: State, body: Json, uid: str) -> tuple[int, Json]:
    if uid not in s.folders:
        return 404, {"message": "folder not found"}
    f = s.folders[uid]
    s.folders[uid] = dict(f, title=body.get("title", f["title"]), version=f["version"] + 1)
    return 200, s.folders[uid]


def _get_ds(s: State, body: Json, uid: str) -> tuple[int, Json]:
    if uid not in s.datasources:
        return 404, {"message": "Data source not found"}
    shown = {k: v for k, v in s.datasources[uid].items() if k != "secureJsonData"}
    return 200, shown


def _create_ds(s: State, body: Json) -> tuple[int, Json]:
    if any(d["name"] == body.get("name") for d in s.datasources.values()):
        return 409, {"message": "data source with the same name already exists"}
    for required in ("name", "type", "access"):
        if not body.get(required):
            return 400, {"message": f"{required} is required"}
    uid = body.get("uid") or f"ds{len(s.datasources) + 1}"
    s.datasources[uid] = dict(body, id=len(s.datasources) + 1, uid=uid, version=1)
    return 200, {
        "datasource": s.datasources[uid],
        "id": s.datasources[uid]["id"],
        "message": "Datasource added",
    }


def _update_ds(s: State, body: Json, uid: str) -> tuple[int, Json]:
    if uid not in s.datasources:
        return 404, {"message": "Data source not found"}
    old = s.datasources[uid]
    s.datasources[uid] = dict(body, id=old["id"], uid=uid, version=old["version"] + 1)
    return 200, {"datasource": s.datasources[uid], "message": "Datasource updated"}


def _get_dashboard(s: State, body: Json, uid: str) -> tuple[int, Json]:
    if uid not in s.dashboards:
        return 404, {"message": "Dashboard not found"}
    d = s.dashboards[uid]
    return 200, {"dashboard": d["dashboard"], "meta": {"folderUid": d["folderUid"], "slug": uid}}


def _save_dashboard(s: State, body: Json) -> tuple[int, Json]:
    dash = body.get("dashboard") or {}
    if not dash.get("title"):
        return 400, {"message": "Dashboard title cannot be empty"}
    folder = body.get("folderUid")
    if folder and folder not in s.folders:
        return 400, {"message": "folder not found"}
    uid = dash.get("uid")
    old = s.dashboards.get(uid)
    if old and not body.get("overwrite") and dash.get("version") != old["dashboard"]["version"]:
        return 412, {
            "message": "The dashboard has been changed by someone else",
            "status": "version-mismatch",
        }
    version = old["dashboard"]["version"] + 1 if old else 1
    ident = old["dashboard"]["id"] if old else len(s.dashboards) + 1
    s.dashboards[uid] = {"dashboard": dict(dash, id=ident, version=version), "folderUid": folder}
    return 200, {
        "id": ident,
        "uid": uid,
        "url": f"/d/{uid}",
        "status": "success",
        "version": version,
    }


_ROUTES: dict[str, list[tuple[str, Any]]] = {
    "GET": [
        (r"/api/org", _org),
        (r"/api/folders/([^/]+)", _get_folder),
        (r"/api/datasources/uid/([^/]+)", _get_ds),
        (r"/api/dashboards/uid/([^/]+)", _get_dashboard),
    ],
    "POST": [
        (r"/api/folders", _create_folder),
        (r"/api/datasources", _create_ds),
        (r"/api/dashboards/db", _save_dashboard),
    ],
    "PUT": [
        (r"/api/folders/([^/]+)", _update_folder),
        (r"/api/datasources/uid/([^/]+)", _update_ds),
    ],
}


class FakeGrafana:
    def __init__(self, tokens: dict[str, str]) -> None:
        self.state = State(tokens)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.state.requests if r[0] != "GET"]
