"""Small builders for Grafana's dashboard JSON model: panels, targets, variables, links.

Dashboards are plain JSON produced by Python, not grafana-foundation-sdk objects: the
JSON model is what Grafana documents, provisions and stores, so the generated files
diff cleanly in review, tests read the very dicts that ship, and there is no SDK whose
version must follow the Grafana server's. These helpers only remove repetition; every
key they write is a documented field of the dashboard model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ioc.types import SEVERITIES

Json = dict[str, Any]

#: The one datasource every panel queries; provisioned and published with this uid.
DATASOURCE_UID = "ioc-timescaledb"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE: Json = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}

#: Dashboard variable holding the operations center API's base URL, for data links.
#: Dashboard files cannot read the environment (Grafana expands ``${VAR}`` in its
#: provisioning YAML only), so in the provisioned dashboards it is a hidden *data source*
#: variable: provisioning names one data source after ``IOC_API_URL`` at Grafana's start
#: (:data:`API_CARRIER_UID`), the variable selects it by type and name, and a link reads
#: its name with ``${api:text}``. The publisher, which knows the URL, makes it a constant.
API_VAR = "api"
#: What every link starts with. The explicit ``text`` format also keeps Grafana from
#: percent-encoding the URL as it does a plain variable inside a data link.
API_PREFIX = f"${{{API_VAR}:text}}"
#: The carrier: a built-in data source type that connects to nothing, named by the URL.
API_CARRIER_TYPE = "grafana-testdata-datasource"
API_CARRIER_UID = "ioc-api-url"
API_CARRIER_ENV = "IOC_API_URL"
#: Selects the carrier among data sources of its type by name (a JavaScript regex).
API_NAME_REGEX = r"/^https?:\/\//"

#: The value a multi-value variable takes for "All": raw SQL, so that a query reads
#: ``('__all' IN ($district) OR district IN ($district))`` and still works when the
#: variable has no options at all.
ALL = "'__all'"

SCHEMA_VERSION = 39
GRID_WIDTH = 24

#: Severity → colour, in :data:`ioc.types.SEVERITIES` order (lowest first).
SEVERITY_COLORS = dict(zip(SEVERITIES, ("blue", "yellow", "orange", "red"), strict=True))


def target(sql: str, *, fmt: str = "table", ref: str = "A") -> Json:
    """A raw-SQL query of the PostgreSQL datasource (``format``: table or time_series)."""
    if fmt not in ("table", "time_series"):
        raise ValueError(f"unknown query format {fmt!r}")
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorMode": "code",
        "rawQuery": True,
        "format": fmt,
        "rawSql": sql.strip(),
    }


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """``(None, "green"), (80, "red")`` → absolute threshold steps (first is the base)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def reduce_last(fields: str = "", *, values: bool = False) -> Json:
    """Reduce each field to its last non-null value (``values``: one per row instead)."""
    return {"calcs": ["lastNotNull"], "fields": fields, "values": values}


def stat_options(
    *,
    color_mode: str,
    text_mode: str,
    graph_mode: str = "none",
    orientation: str | None = None,
) -> Json:
    """The options of a stat panel: centred, each field's last value."""
    options: Json = {
        "colorMode": color_mode,
        "graphMode": graph_mode,
        "textMode": text_mode,
        "justifyMode": "center",
        "reduceOptions": reduce_last(),
    }
    if orientation is not None:
        options["orientation"] = orientation
    return options


def bargauge_options(display_mode: str, *, fields: str = "", **extra: Any) -> Json:
    """The options of a horizontal bar gauge with one bar per row."""
    return {
        "orientation": "horizontal",
        "displayMode": display_mode,
        **extra,
        "reduceOptions": reduce_last(fields, values=True),
    }


def link(title: str, path: str) -> Json:
    """A data link into the operations center (``path`` absolute, e.g. ``/ui/...``)."""
    if not path.startswith("/"):
        raise ValueError(f"link path must be absolute: {path!r}")
    return {"title": title, "url": f"{API_PREFIX}{path}", "targetBlank": True}


#: The operations center's pages for people (ioc/api/pages.py): what a click opens.
DEVICE_LINK = link("Open the device in the operations center", "/ui/devices/${__value.raw}")
ALERT_LINK = link("Open the alert in the operations center", "/ui/alerts/${__value.raw}")


def center_link() -> Json:
    """A dashboard-level link to the operations center's sign-in page."""
    return {
        "title": "Operations center",
        "type": "link",
        "url": f"{API_PREFIX}/ui/login",
        "icon": "external link",
        "targetBlank": True,
        "tooltip": "Sign in to acknowledge and resolve alerts",
    }


def field_links(field_name: str, *links: Json) -> Json:
    """A field override that attaches data links to one column of a table or layer."""
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": "links", "value": list(links)}],
    }


def panel(
    kind: str,
    title: str,
    targets: Sequence[Json],
    *,
    description: str = "",
    unit: str | None = None,
    steps: Json | None = None,
    min: float | None = None,
    max: float | None = None,
    overrides: Iterable[Json] = (),
    options: Json | None = None,
    custom: Json | None = None,
    mappings: Sequence[Json] = (),
    transformations: Sequence[Json] = (),
    size: tuple[int, int] = (6, 6),
) -> Json:
    """One panel; ``size`` is (width, height) in grid units, placed by :func:`layout`."""
    defaults: Json = {"color": {"mode": "thresholds"}}
    if unit is not None:
        defaults["unit"] = unit
    if steps is not None:
        defaults["thresholds"] = steps
    if min is not None:
        defaults["min"] = min
    if max is not None:
        defaults["max"] = max
    if custom is not None:
        defaults["custom"] = custom
    if mappings:
        defaults["mappings"] = list(mappings)
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options or {},
        "gridPos": {"w": size[0], "h": size[1]},
    }
    if transformations:
        result["transformations"] = list(transformations)
    return result


def row(title: str) -> Json:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": GRID_WIDTH, "h": 1},
    }


def layout(panels: Sequence[Json]) -> list[Json]:
    """Give panels ids and positions: each goes as high as it fits, then leftmost (the
    way Grafana's own grid settles panels); a row starts below everything before it."""
    placed: list[Json] = []
    heights = [0] * GRID_WIDTH
    for pid, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if not 0 < w <= GRID_WIDTH:
            raise ValueError(f"panel {p['title']!r} does not fit the grid's width")
        if p["type"] == "row":
            x, y = 0, max(heights)
        else:
            y, x = min((max(heights[x : x + w]), x) for x in range(GRID_WIDTH - w + 1))
        placed.append(dict(p, id=pid, gridPos={"x": x, "y": y, "w": w, "h": h}))
        heights[x : x + w] = [y + h] * w
        if p["type"] == "row":
            heights = [y + h] * GRID_WIDTH
    return placed


def query_variable(name: str, label: str, sql: str, *, multi: bool = True, hide: int = 0) -> Json:
    """A variable whose options come from SQL; multi-value with an "All" of :data:`ALL`."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": sql.strip(),
        "definition": sql.strip(),
        "refresh": 2,  # on time range change: new devices appear without a reload
        "multi": multi,
        "includeAll": True,
        "allValue": ALL,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": hide,
        "options": [],
    }


def api_variable() -> Json:
    """Hidden data source variable whose text is ``IOC_API_URL`` (see :data:`API_VAR`)."""
    return {
        "type": "datasource",
        "name": API_VAR,
        "label": "Operations center API",
        "query": API_CARRIER_TYPE,
        "regex": API_NAME_REGEX,
        "current": {},
        "options": [],
        "refresh": 1,
        "multi": False,
        "includeAll": False,
        "hide": 2,
    }


def api_constant(api_url: str) -> Json:
    """Hidden constant with the API's base URL, for a dashboard pushed by the publisher."""
    return {
        "type": "constant",
        "name": API_VAR,
        "label": "Operations center API",
        "query": api_url,
        "current": {"text": api_url, "value": api_url},
        "hide": 2,
    }


def annotation(name: str, sql: str, color: str) -> Json:
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "target": target(sql),
    }


def dashboard(
    uid: str,
    title: str,
    panels: Sequence[Json],
    *,
    description: str,
    tags: Sequence[str],
    variables: Sequence[Json] = (),
    annotations: Sequence[Json] = (),
    links: Sequence[Json] = (),
    time_from: str = "now-6h",
    refresh: str = "30s",
) -> Json:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": list(tags),
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "templating": {"list": [api_variable(), *variables]},
        "annotations": {"list": [builtin, *annotations]},
        "links": list(links),
        "panels": layout(panels),
    }


def dashboard_link(title: str, tag: str) -> Json:
    """A dashboard-level link menu to every dashboard with ``tag``."""
    return {
        "title": title,
        "type": "dashboards",
        "tags": [tag],
        "asDropdown": True,
        "includeVars": False,
        "keepTime": True,
        "targetBlank": False,
    }
