"""Grafana's links follow IOC_API_URL, checked as data: the provisioning names a data
source after the variable, every dashboard's hidden ``api`` variable selects that data
source and only it, and every link starts with its name. Grafana's two steps are
replayed here: expanding ``${VAR}`` in provisioning YAML from its environment, and
filtering a data source variable's options by type and name regex."""

from __future__ import annotations

import re
from string import Template
from typing import Any

import pytest
import yaml

from dashboards.generate import boards, render
from dashboards.model import (
    API_CARRIER_ENV,
    API_CARRIER_TYPE,
    API_PREFIX,
    API_VAR,
    DATASOURCE_TYPE,
)
from dashboards.publish import with_api_url
from testkit.dashboard_walk import links

WALL_PC_URL = "https://ioc.example.org:8443"


def provisioned(env: dict[str, str]) -> list[dict[str, Any]]:
    """The data sources Grafana provisions, with ``${VAR}`` taken from ``env``."""
    text = render()["provisioning/datasources/ioc.yaml"]
    sources: list[dict[str, Any]] = yaml.safe_load(Template(text).safe_substitute(env))[
        "datasources"
    ]
    return sources


def js_regex(source: str) -> re.Pattern[str]:
    assert source.startswith("/") and source.endswith("/"), source
    return re.compile(source[1:-1].replace("\\/", "/"))


def api_variable(model: dict[str, Any]) -> dict[str, Any]:
    (variable,) = [v for v in model["templating"]["list"] if v["name"] == API_VAR]
    return variable


ENV = {
    API_CARRIER_ENV: WALL_PC_URL,
    **{
        k: "x"
        for k in (
            "IOC_GRAFANA_DB_HOST",
            "IOC_GRAFANA_DB_PORT",
            "IOC_GRAFANA_DB_USER",
            "IOC_GRAFANA_DB_PASSWORD",
            "IOC_GRAFANA_DB_NAME",
        )
    },
}


def test_provisioning_names_a_data_source_after_ioc_api_url() -> None:
    text = render()["provisioning/datasources/ioc.yaml"]
    assert f"name: ${{{API_CARRIER_ENV}}}" in text
    carriers = [s for s in provisioned(ENV) if s["type"] == API_CARRIER_TYPE]
    assert [s["name"] for s in carriers] == [WALL_PC_URL]
    assert not carriers[0]["isDefault"] and "url" not in carriers[0]


@pytest.mark.parametrize("board", boards(), ids=lambda b: b.name)
def test_each_dashboard_resolves_its_links_to_ioc_api_url(board: Any) -> None:
    variable = api_variable(board.model)
    assert (variable["type"], variable["query"], variable["hide"]) == (
        "datasource",
        API_CARRIER_TYPE,
        2,
    )
    name_filter = js_regex(variable["regex"])
    options = [
        s["name"]
        for s in provisioned(ENV)
        if s["type"] == variable["query"] and name_filter.search(s["name"])
    ]
    assert options == [WALL_PC_URL]  # the carrier, never the database
    assert not name_filter.search("IOC TimescaleDB")
    for s in provisioned(ENV):
        assert s["type"] != DATASOURCE_TYPE or not name_filter.search(s["name"])
    urls = [url for _, url in links(board.model)]
    assert urls and all(u.startswith(API_PREFIX) for u in urls)
    resolved = [u.replace(API_PREFIX, options[0]) for u in urls]
    assert all(u.startswith(f"{WALL_PC_URL}/ui/") for u in resolved)


@pytest.mark.parametrize("url", ["http://localhost:8000", "https://ioc.example.org/center"])
def test_name_filter_takes_any_http_url(url: str) -> None:
    variable = api_variable(boards()[0].model)
    assert js_regex(variable["regex"]).search(url)


def test_published_dashboards_carry_the_url_as_a_constant() -> None:
    model = with_api_url(boards()[0].model, WALL_PC_URL)
    variable = api_variable(model)
    assert (variable["type"], variable["query"], variable["hide"]) == (
        "constant",
        WALL_PC_URL,
        2,
    )
    assert variable["current"]["text"] == WALL_PC_URL  # what ${api:text} reads
