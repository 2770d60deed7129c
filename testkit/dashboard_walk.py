"""Walk a dashboard model: every SQL query and every link it carries, with where it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple


class Query(NamedTuple):
    where: str
    sql: str
    format: str


def queries(model: dict[str, Any]) -> Iterator[Query]:
    uid = model["uid"]
    for panel in model["panels"]:
        for t in panel.get("targets", []):
            yield Query(f"{uid} / {panel['title']} / {t['refId']}", t["rawSql"], t["format"])
    for a in model["annotations"]["list"]:
        if "target" in a:
            yield Query(f"{uid} / annotation {a['name']}", a["target"]["rawSql"], "table")
    for v in model["templating"]["list"]:
        if v["type"] == "query":
            yield Query(f"{uid} / variable {v['name']}", v["query"], "table")


def links(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, url) of every link: dashboard links, and data links in field defaults
    and overrides."""
    for link in model.get("links", []):
        if link["type"] == "link":
            yield f"{model['uid']} / link {link['title']}", link["url"]
    for panel in model["panels"]:
        fc = panel.get("fieldConfig", {})
        for link in fc.get("defaults", {}).get("links", []):
            yield f"{model['uid']} / {panel['title']}", link["url"]
        for o in fc.get("overrides", []):
            for prop in o["properties"]:
                if prop["id"] == "links":
                    for link in prop["value"]:
                        where = f"{model['uid']} / {panel['title']} / {o['matcher']['options']}"
                        yield where, link["url"]
