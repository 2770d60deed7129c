"""Colour thresholds per metric: the catalog's typical range, and the alert rules' levels.

Panels turn orange where a value leaves the catalog's typical range and take the colour
of a rule's severity at the rule's threshold, so the wall goes red where the alert
engine fires, not at a number someone typed into a dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dashboards.model import SEVERITY_COLORS, Json, thresholds
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import GroupParams, RuleSpec, ThresholdParams
from ioc.telemetry.catalog import Metric
from ioc.types import Severity, severity_rank


@dataclass(frozen=True, slots=True)
class Level:
    """A threshold rule's level: ``op`` ">" fires above ``value``, "<" below it."""

    metric: str
    op: str
    value: float
    severity: Severity


def _worst(levels: Iterable[Level]) -> str:
    return SEVERITY_COLORS[max((lv.severity for lv in levels), key=severity_rank)]


def steps(metric: Metric, levels: Iterable[Level] = ()) -> Json:
    """Ascending threshold steps for ``metric`` (Grafana colours from a value upward).

    A value takes the colour of the worst rule it would fire: below a "<" level, at or
    above a ">" level. Between them it is green; without rules on that side, the
    catalog's typical range marks where "unusual" (blue below, orange above) begins.
    """
    mine = [lv for lv in levels if lv.metric == metric.name]
    low = sorted({lv.value for lv in mine if lv.op == "<"})
    high = sorted({lv.value for lv in mine if lv.op == ">"})
    points: dict[float, str] = {}
    if low:
        base = _worst(lv for lv in mine if lv.op == "<")
        for level in low:
            above = [lv for lv in mine if lv.op == "<" and lv.value > level]
            points[level] = _worst(above) if above else "green"
    elif metric.typical_min > metric.min:
        base = "blue"
        points[metric.typical_min] = "green"
    else:
        base = "green"
    if not high or high[0] > metric.typical_max:
        points.setdefault(metric.typical_max, "orange")
    for level in high:
        points[level] = _worst(lv for lv in mine if lv.op == ">" and lv.value <= level)
    return thresholds((None, base), *sorted(points.items()))


def from_rules(rules: Iterable[RuleSpec]) -> list[Level]:
    """The levels of enabled rules that compare a reading (or a group's mean, min or max)
    with a fixed value; rate, anomaly and absence rules have no level to draw."""
    found: list[Level] = []
    for rule in rules:
        params = rule.params
        if not rule.enabled or rule.metric is None:
            continue
        if isinstance(params, GroupParams) and params.agg not in ("avg", "min", "max"):
            continue
        if isinstance(params, ThresholdParams | GroupParams):
            found.append(Level(rule.metric, params.op, params.value, rule.severity))
    return found


def default_levels() -> list[Level]:
    """Levels of the rule set the product ships (``ioc/alerts/defaults.toml``)."""
    return from_rules(default_rules())
