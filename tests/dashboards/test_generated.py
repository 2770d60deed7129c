"""The files in deploy/grafana/ are what the code generates (CI regenerates and compares),
and the dashboards hold together as Grafana models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboards import generate
from dashboards.generate import FOLDERS, boards
from dashboards.levels import Level, default_levels, steps
from dashboards.model import DATASOURCE_TYPE, DATASOURCE_UID, GRID_WIDTH, layout
from dashboards.units import grafana_unit
from ioc.telemetry.catalog import CATALOG, DOMAINS

ROOT = Path(__file__).resolve().parents[2]


def test_committed_files_are_up_to_date() -> None:
    assert generate.stale() == [], "run: python -m dashboards generate"


def test_check_command_notices_drift(tmp_path: Path) -> None:
    generate.write(tmp_path)
    assert generate.stale(tmp_path) == []
    wall = tmp_path / "dashboards/control-room/wall.json"
    wall.write_text(wall.read_text().replace("Control-room wall", "Wall"))
    (tmp_path / "dashboards/domains/old.json").write_text("{}")
    assert generate.stale(tmp_path) == [
        "dashboards/control-room/wall.json",
        "dashboards/domains/old.json",
    ]
    assert sorted(generate.write(tmp_path)) == [
        "dashboards/control-room/wall.json",
        "dashboards/domains/old.json",
    ]
    assert generate.stale(tmp_path) == []
    done = subprocess.run(
        [sys.executable, "-m", "dashboards", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_provisioning_matches_the_folders_and_the_datasource() -> None:
    grafana = ROOT / "deploy/grafana"
    providers = yaml.safe_load((grafana / "provisioning/dashboards/ioc.yaml").read_text())
    by_uid = {p["folderUid"]: p for p in providers["providers"]}
    assert set(by_uid) == {f.uid for f in FOLDERS}
    for f in FOLDERS:
        assert by_uid[f.uid]["folder"] == f.title
        assert by_uid[f.uid]["options"]["path"].endswith(f"/{f.directory}")
        assert (grafana / "dashboards" / f.directory).is_dir()
    sources = yaml.safe_load((grafana / "provisioning/datasources/ioc.yaml").read_text())
    (ds,) = [s for s in sources["datasources"] if s["type"] == DATASOURCE_TYPE]
    assert ds["uid"] == DATASOURCE_UID
    # Credentials come from the environment, never from the repository.
    assert ds["secureJsonData"]["password"].startswith("${")
    assert ds["user"].startswith("${")


@pytest.mark.parametrize("board", boards(), ids=lambda b: b.model["uid"])
def test_dashboard_model_is_consistent(board: generate.Board) -> None:
    model = json.loads(generate.dump(board.model))
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in model["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= GRID_WIDTH, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] != "row":
            assert p["datasource"]["uid"] == DATASOURCE_UID
            assert p["targets"] and all(
                t["datasource"]["uid"] == DATASOURCE_UID for t in p["targets"]
            )
            assert p["description"], f"{p['title']} has no description"


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_dashboard_covers_its_catalog(domain: str) -> None:
    model = next(b.model for b in boards() if b.model["uid"] == f"ioc-{domain}")
    variables = {v["name"] for v in model["templating"]["list"]}
    assert {"district", "device"} <= variables
    for kind in ("stat", "timeseries"):
        panels = [p for p in model["panels"] if p["type"] == kind]
        units = sorted(p["fieldConfig"]["defaults"]["unit"] for p in panels)
        assert units == sorted(grafana_unit(m) for m in CATALOG[domain].values())
    for p in (p for p in model["panels"] if p["type"] == "timeseries"):
        assert "readings_1h" in p["targets"][0]["rawSql"]  # long ranges read the rollups
        assert "readings_1m" in p["targets"][0]["rawSql"]


def test_wall_is_kiosk_ready_and_shows_what_the_room_needs() -> None:
    wall = next(b.model for b in boards() if b.model["uid"] == "ioc-wall")
    assert wall["refresh"] == "10s"
    assert wall["timepicker"]["hidden"] is True
    titles = {p["title"]: p["type"] for p in wall["panels"]}
    assert titles["Devices"] == "geomap"
    assert {"Open alerts", "Open alerts by severity", "Data freshness", "Ingest rate"} <= set(
        titles
    )
    assert {d.capitalize() for d in DOMAINS} <= set(titles)
    assert [a["name"] for a in wall["annotations"]["list"][1:]] == [
        "Alerts opened",
        "Alerts resolved",
    ]


def test_rule_levels_colour_the_panels() -> None:
    load = CATALOG["energy"]["load_pct"]
    assert Level("load_pct", ">", 100.0, "critical") in default_levels()
    traffic = next(b.model for b in boards() if b.model["uid"] == "ioc-energy")
    stat = next(
        p for p in traffic["panels"] if p["type"] == "stat" and p["title"].startswith("Load")
    )
    assert {"color": "red", "value": 100.0} in stat["fieldConfig"]["defaults"]["thresholds"][
        "steps"
    ]
    assert steps(load)["steps"][-1] == {"color": "orange", "value": load.typical_max}


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], [(None, "blue"), (215.0, "green"), (245.0, "orange")]),
        (
            [Level("voltage_v", "<", 207, "major")],
            [(None, "orange"), (207, "green"), (245.0, "orange")],
        ),
        (
            [
                Level("voltage_v", "<", 207, "major"),
                Level("voltage_v", "<", 190, "critical"),
                Level("voltage_v", ">", 253, "major"),
                Level("voltage_v", ">", 270, "minor"),
            ],
            [
                (None, "red"),
                (190, "orange"),
                (207, "green"),
                (245.0, "orange"),
                (253, "orange"),
                (270, "orange"),
            ],
        ),
        (
            [Level("voltage_v", ">", 240, "critical")],
            [(None, "blue"), (215.0, "green"), (240, "red")],
        ),
        (
            [Level("other", ">", 1, "critical")],
            [(None, "blue"), (215.0, "green"), (245.0, "orange")],
        ),
    ],
)
def test_steps_take_the_worst_rule_a_value_would_fire(
    levels: list[Level], expected: list[tuple[float | None, str]]
) -> None:
    got = [(s["value"], s["color"]) for s in steps(CATALOG["energy"]["voltage_v"], levels)["steps"]]
    assert got == expected


def test_layout_stacks_short_panels_beside_a_tall_one() -> None:
    def p(w: int, h: int) -> dict[str, object]:
        return {"type": "stat", "title": "p", "gridPos": {"w": w, "h": h}}

    placed = layout([p(14, 10), p(10, 5), p(10, 5), p(24, 3)])
    assert [(q["gridPos"]["x"], q["gridPos"]["y"]) for q in placed] == [
        (0, 0),
        (14, 0),
        (14, 5),
        (0, 10),
    ]
    with pytest.raises(ValueError, match="width"):
        layout([p(25, 1)])
