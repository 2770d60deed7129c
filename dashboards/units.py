"""Catalog units → Grafana unit ids, so panels format values the way Grafana knows how.

Units Grafana has no id for are shown as a suffix (``"suffix: g/L"``), which Grafana
documents as a custom unit; the catalog's own spelling is kept either way.
"""

from __future__ import annotations

from ioc.telemetry.catalog import Metric

_GRAFANA_UNITS = {
    "%": "percent",
    "km/h": "velocitykmh",
    "kW": "kwatt",
    "V": "volt",
    "Hz": "hertz",
    "°C": "celsius",
    "m": "lengthm",
    "min": "m",
    "µg/m³": "conµgm3",
}


def grafana_unit(metric: Metric) -> str:
    return _GRAFANA_UNITS.get(metric.unit, f"suffix: {metric.unit}")


_UNIT_TOKENS = {"kmh", "kw", "v", "hz", "c", "m", "pct", "min", "ugm3", "gl", "cm", "mm", "h"}
_SPELLING = {"pm25": "PM2.5", "temp": "temperature"}


def title(metric: Metric) -> str:
    """``avg_speed_kmh`` → ``Avg speed (km/h)``: readable from across the room."""
    words = metric.name.split("_")
    while len(words) > 1 and words[-1] in _UNIT_TOKENS:  # the unit is said in brackets
        words.pop()
    text = " ".join(_SPELLING.get(w, w) for w in words)
    return f"{text[0].upper()}{text[1:]} ({metric.unit})"
